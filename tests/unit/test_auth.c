/* Unit tests for src/auth.c: modes, env fallbacks, fail closed, header parsing. */
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "check.h"
#include "config.h"

static struct cfg *load(const char *text)
{
	struct cfg *c = NULL;
	char err[600];
	if (cfg_load_text("t.json5", text, strlen(text), &c, err, sizeof err) < 0)
		printf("# load failed: %s\n", err);
	return c;
}

#define PROVIDERS "models:{providers:{echo:{api:'echo'}}}, agents:{defaults:{model:'echo/e'}},"

static int check(struct cfg *c, const char *hdr, int want_status)
{
	struct err e;
	err_clear(&e);
	int rc = auth_check(c, hdr, &e);
	return rc == 0 ? want_status == 0 : e.status == want_status;
}

int main(void)
{
	struct cfg *c;
	struct err e;
	size_t len;
	const char *s;

	unsetenv("OPENCLAW_GATEWAY_TOKEN");
	unsetenv("OPENCLAW_GATEWAY_PASSWORD");

	s = auth_bearer("Bearer abc", &len);
	CHECK(s && len == 3 && !strncmp(s, "abc", 3), "bearer: plain");
	s = auth_bearer("  bEaReR \t abc  ", &len);
	CHECK(s && len == 3 && !strncmp(s, "abc", 3),
	      "bearer: scheme case-insensitive, spaces trimmed");
	CHECK(auth_bearer("Basic abc", &len) == NULL, "bearer: other scheme refused");
	CHECK(auth_bearer("Bearer", &len) == NULL, "bearer: no secret");
	CHECK(auth_bearer("Bearer    ", &len) == NULL, "bearer: blank secret");
	CHECK(auth_bearer("", &len) == NULL, "bearer: empty header");
	CHECK(auth_bearer(NULL, &len) == NULL, "bearer: absent header");
	CHECK(auth_bearer("Bearerabc", &len) == NULL, "bearer: no space after scheme");

	CHECK(auth_equal("abc", 3, "abc", 3), "equal: same");
	CHECK(!auth_equal("abc", 3, "abd", 3), "equal: differs in last byte");
	CHECK(!auth_equal("abc", 3, "abcd", 4), "equal: prefix is not equal");
	CHECK(!auth_equal("", 0, "a", 1), "equal: empty vs one byte");

	c = load("{gateway:{auth:{mode:'token', token:'s3cret-token'}}, " PROVIDERS "}");
	CHECK(c && c->auth.mode == CFG_AUTH_TOKEN, "token mode loads");
	CHECK(check(c, "Bearer s3cret-token", 0), "token: right token passes");
	CHECK(check(c, "bearer   s3cret-token ", 0), "token: case and whitespace tolerated");
	CHECK(check(c, "Bearer s3cret-toke", 401), "token: wrong token 401");
	CHECK(check(c, NULL, 401), "token: missing header 401");
	CHECK(check(c, "", 401), "token: empty header 401");
	CHECK(check(c, "s3cret-token", 401), "token: no scheme 401");
	err_clear(&e);
	auth_check(c, "Bearer x", &e);
	CHECK_STR(err_type_name(e.type), "unauthorized", "401 type is unauthorized");
	CHECK_STR(e.message, "Unauthorized", "401 message");
	cfg_free(c);

	setenv("OPENCLAW_GATEWAY_TOKEN", "from-env-token", 1);
	c = load("{gateway:{auth:{mode:'token'}}, " PROVIDERS "}");
	CHECK(c && check(c, "Bearer from-env-token", 0), "token: env fallback");
	cfg_free(c);
	c = load("{gateway:{auth:{mode:'token', token:'file-token'}}, " PROVIDERS "}");
	CHECK(c && check(c, "Bearer file-token", 0) && check(c, "Bearer from-env-token", 401),
	      "token: config value wins over env");
	cfg_free(c);
	c = load("{gateway:{auth:{token:'${OPENCLAW_GATEWAY_TOKEN}'}}, " PROVIDERS "}");
	CHECK(c && check(c, "Bearer from-env-token", 0), "token: ${VAR} substitution");
	cfg_free(c);
	unsetenv("OPENCLAW_GATEWAY_TOKEN");

	c = load("{gateway:{auth:{mode:'token'}}, " PROVIDERS "}");
	CHECK(c && check(c, "Bearer anything", 500),
	      "token: no secret anywhere fails closed (500)");
	err_clear(&e);
	auth_check(c, "Bearer anything", &e);
	CHECK(strstr(e.message, "OPENCLAW") == NULL && strstr(e.message, "gateway.auth") == NULL,
	      "fail closed: the setting is not named in the body");
	cfg_free(c);
	c = load("{gateway:{auth:{mode:'token', token:''}}, " PROVIDERS "}");
	CHECK(c && check(c, NULL, 500), "token: empty token fails closed even without a header");
	cfg_free(c);

	c = load("{gateway:{auth:{mode:'password', password:'pw-123'}}, " PROVIDERS "}");
	CHECK(c && c->auth.mode == CFG_AUTH_PASSWORD && check(c, "Bearer pw-123", 0),
	      "password: right password passes");
	CHECK(c && check(c, "Bearer pw-1234", 401), "password: wrong password 401");
	cfg_free(c);
	setenv("OPENCLAW_GATEWAY_PASSWORD", "env-pw", 1);
	c = load("{gateway:{auth:{mode:'password'}}, " PROVIDERS "}");
	CHECK(c && check(c, "Bearer env-pw", 0), "password: env fallback");
	cfg_free(c);
	c = load("{" PROVIDERS "}");
	CHECK(c && c->auth.mode == CFG_AUTH_PASSWORD,
	      "mode inferred: password when only env password");
	cfg_free(c);
	unsetenv("OPENCLAW_GATEWAY_PASSWORD");
	c = load("{gateway:{auth:{mode:'password'}}, " PROVIDERS "}");
	CHECK(c && check(c, "Bearer x", 500), "password: missing secret fails closed");
	cfg_free(c);

	c = load("{gateway:{auth:{password:'pw'}}, " PROVIDERS "}");
	CHECK(c && c->auth.mode == CFG_AUTH_PASSWORD, "mode inferred: password when password set");
	cfg_free(c);
	c = load("{gateway:{auth:{token:'tk-abc'}}, " PROVIDERS "}");
	CHECK(c && c->auth.mode == CFG_AUTH_TOKEN, "mode inferred: token otherwise");
	cfg_free(c);
	c = load("{" PROVIDERS "}");
	CHECK(c && c->auth.mode == CFG_AUTH_TOKEN && check(c, "Bearer x", 500),
	      "no auth section: token mode, fails closed");
	cfg_free(c);

	c = load("{gateway:{auth:{mode:'none'}}, " PROVIDERS "}");
	CHECK(c && check(c, NULL, 0) && check(c, "Bearer whatever", 0), "none: everything passes");
	cfg_free(c);

	CHECK(auth_is_loopback("127.0.0.1") && auth_is_loopback("127.8.9.10") &&
		      auth_is_loopback("::1") && auth_is_loopback("::ffff:127.0.0.1"),
	      "loopback addresses");
	CHECK(!auth_is_loopback("10.0.0.1") && !auth_is_loopback("::2") && !auth_is_loopback("") &&
		      !auth_is_loopback(NULL) && !auth_is_loopback("128.0.0.1"),
	      "other addresses are not loopback");
	return check_done();
}
