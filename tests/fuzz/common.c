/* SPDX-License-Identifier: ISC */
/*
 * common.c - see common.h.
 */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>

#include "common.h"
#include "config.h"
#include "output.h"

void
fz_setup(void)
{
	static bool done;
	char err[256];

	if (done)
		return;
	done = true;
	iw_config_defaults(&iw_cfg);
	iw_cfg.all_tls = true;
	iw_cfg.flows = true;
	/* small tables and caps, so eviction and cap paths are reached by
	 * inputs of a few kilobytes */
	iw_cfg.max_flows = 8;
	iw_cfg.tcp_idle_timeout = 30;
	iw_cfg.tcp_closed_timeout = 5;
	iw_cfg.reasm_flow_cap = 16 * 1024;
	iw_cfg.reasm_global_cap = 64 * 1024;
	iw_cfg.frag_mem_cap = 64 * 1024;
	iw_cfg.bruteforce_count = 3;
	iw_cfg.bruteforce_window = 60;
	/* expected names for the servers the session harnesses use */
	iw_config_add_server_name("192.0.2.1:993=imap.example.test");
	iw_config_add_server_name("[2001:db8::1]=*.example.test");
	/* FZ_EVENTS=FILE keeps the events (to look at what an input does) */
	if (iw_output_add(getenv("FZ_EVENTS") ? getenv("FZ_EVENTS") :
	    "/dev/null", err, sizeof(err)) != 0) {
		fprintf(stderr, "fuzz: %s\n", err);
		abort();
	}
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fz_setup();
	return 0;
}

size_t
fz_gcm_seal(EVP_CIPHER_CTX *ctx, bool *keyed, const uint8_t key[16],
    const uint8_t nonce[12], const uint8_t *aad, size_t aadlen,
    const uint8_t *pt, size_t n, uint8_t *out)
{
	int l = 0, fl = 0;

	if (!*keyed)
		EVP_EncryptInit_ex(ctx, EVP_aes_128_gcm(), NULL, key, nonce);
	else
		EVP_EncryptInit_ex(ctx, NULL, NULL, NULL, nonce);
	*keyed = true;
	EVP_EncryptUpdate(ctx, NULL, &l, aad, (int)aadlen);
	EVP_EncryptUpdate(ctx, out, &l, pt, (int)n);
	EVP_EncryptFinal_ex(ctx, out + l, &fl);
	EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, 16, out + n);
	return n + 16;
}
