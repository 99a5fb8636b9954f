/*
 * bench/hello.c - the limit: the least a FastCGI responder can do with
 * libfcgi.  It reads the request body and answers a fixed JSON object,
 * one request at a time per process.  make bench runs it behind the same
 * lighttpd config as clawcgi and reports clawcgi's figures against it.
 */
#include <fcgiapp.h>

int main(void)
{
	FCGX_Stream *in, *out, *err;
	FCGX_ParamArray envp;
	char buf[16384];

	while (FCGX_Accept(&in, &out, &err, &envp) >= 0) {
		while (FCGX_GetStr(buf, sizeof buf, in) > 0)
			;
		FCGX_FPrintF(out, "Status: 200 OK\r\n"
				  "Content-Type: application/json\r\n\r\n"
				  "{\"object\":\"chat.completion\",\"choices\":[]}\n");
	}
	return 0;
}
