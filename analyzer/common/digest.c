/* SPDX-License-Identifier: ISC */
/*
 * digest.c - see digest.h.  The fetched digests are kept until exit
 * (reachable, three of them).
 */
#include "digest.h"

static const EVP_MD *
fetched(EVP_MD **slot, const char *name, const EVP_MD *fallback)
{
	if (*slot == NULL)
		*slot = EVP_MD_fetch(NULL, name, NULL);
	return *slot != NULL ? *slot : fallback;
}

const EVP_MD *
iw_md_md5(void)
{
	static EVP_MD *md;

	return fetched(&md, "MD5", EVP_md5());
}

const EVP_MD *
iw_md_sha1(void)
{
	static EVP_MD *md;

	return fetched(&md, "SHA1", EVP_sha1());
}

const EVP_MD *
iw_md_sha256(void)
{
	static EVP_MD *md;

	return fetched(&md, "SHA256", EVP_sha256());
}
