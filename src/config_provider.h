/*
 * config_provider.h - the models.providers section of the config file,
 * for config.c (which loads the whole file).
 */
#ifndef CLAW_CONFIG_PROVIDER_H
#define CLAW_CONFIG_PROVIDER_H

#include <cjson/cJSON.h>

#include "config.h"
#include "config_read.h"

/* Every entry of models.providers into c->providers, each checked, its
 * defaults applied; pending gets one deferred ${VAR} message per provider,
 * in order (see cfgr_string).  Returns 0 or -1 (L holds why). */
int cfg_load_providers(struct cfg_reader *L, struct cfg *c, const cJSON *root,
		       char (*pending)[CFGR_PENDING_MAX]);

/* Free what a provider entry holds (not the entry itself). */
void cfg_free_provider(struct cfg_provider *p);

#endif
