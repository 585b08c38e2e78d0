/* SPDX-License-Identifier: ISC */
/*
 * test_tls_keys.c - the key schedules and record protection against
 * published vectors, and the key log loader.
 *
 *   - TLS 1.3: every secret, key and IV of RFC 8448's "Simple 1-RTT
 *     Handshake" (section 3), derived here with iw_tls13_extract and
 *     iw_tls13_expand_label; every protected record of that trace opened
 *     with the derived keys, the plaintext checked against the trace (the
 *     server's flight by the RFC's own transcript hash over it); the same
 *     records through a whole iw_tlsd session.
 *   - TLS 1.2 PRF: the SHA-256 and SHA-384 vectors posted to the IETF TLS
 *     list ("TLS 1.2 Test vectors", Joseph Birr-Pixton, Nov 2010,
 *     https://www.ietf.org/mail-archive/web/tls/current/msg03416.html),
 *     as reproduced by netty's PseudoRandomFunctionTest and boring's
 *     tests.
 *   - The key log loader: good lines of every label, bad lines counted
 *     and reported by number without their text, other labels ignored,
 *     comments, CRLF, partial lines, the cap and its eviction, growth,
 *     truncation, rotation, a world-readable file, readers in threads
 *     while the loader publishes, core dumps refused.
 *
 * The secrets used here never appear in the test's output (checked).
 */
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <openssl/evp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "tls_decrypt.h"
#include "tls_keys.h"

/* ---- hex ---- */

static size_t
unhex(const char *h, uint8_t *out, size_t cap)
{
	size_t n = 0;
	unsigned v;

	while (h[0] != '\0' && h[1] != '\0' && n < cap) {
		if (h[0] == ' ') {
			h++;
			continue;
		}
		if (sscanf(h, "%2x", &v) != 1)
			break;
		out[n++] = (uint8_t)v;
		h += 2;
	}
	return n;
}

static bool
same_hex(const uint8_t *p, size_t n, const char *h)
{
	uint8_t want[256];
	size_t wn = unhex(h, want, sizeof(want));

	return wn == n && memcmp(p, want, n) == 0;
}

/* ---- RFC 8448 section 3 ---- */

static const char rfc_ch[] =
	"010000c00303cb34ecb1e78163ba1c38c6dacb196a6dffa21a8d9912ec18a2ef"
	"6283024dece7000006130113031302010000910000000b000900000673657276"
	"6572ff01000100000a00140012001d0017001800190100010101020103010400"
	"230000003300260024001d002099381de560e4bd43d23d8e435a7dbafeb3c06e"
	"51c13cae4d5413691e529aaf2c002b0003020304000d0020001e040305030603"
	"020308040805080604010501060102010402050206020202002d00020101001c"
	"00024001";
static const char rfc_sh[] =
	"020000560303a6af06a4121860dc5e6e60249cd34c95930c8ac5cb1434dac155"
	"772ed3e2692800130100002e00330024001d0020c9828876112095fe66762bdb"
	"f7c672e156d6cc253b833df1dd69b1b04e751f0f002b00020304";
static const char rfc_rec_server_hs[] =
	"17030302a2d1ff334a56f5bff6594a07cc87b580233f500f45e489e7f33af35e"
	"df7869fcf40aa40aa2b8ea73f848a7ca07612ef9f945cb960b4068905123ea78"
	"b111b429ba9191cd05d2a389280f526134aadc7fc78c4b729df828b5ecf7b13b"
	"d9aefb0e57f271585b8ea9bb355c7c79020716cfb9b1183ef3ab20e37d57a6b9"
	"d7477609aee6e122a4cf51427325250c7d0e509289444c9b3a648f1d71035d2e"
	"d65b0e3cdd0cbae8bf2d0b227812cbb360987255cc744110c453baa4fcd61092"
	"8d809810e4b7ed1a8fd991f06aa6248204797e36a6a73b70a2559c09ead68694"
	"5ba246ab66e5edd8044b4c6de3fcf2a89441ac66272fd8fb330ef8190579b368"
	"4596c960bd596eea520a56a8d650f563aad27409960dca63d3e688611ea5e22f"
	"4415cf9538d51a200c27034272968a264ed6540c84838d89f72c24461aad6d26"
	"f59ecaba9acbbb317b66d902f4f292a36ac1b639c637ce343117b65962224531"
	"7b49eeda0c6258f100d7d961ffb138647e92ea330faeea6dfa31c7a84dc3bd7e"
	"1b7a6c7178af36879018e3f252107f243d243dc7339d5684c8b0378bf30244da"
	"8c87c843f5e56eb4c5e8280a2b48052cf93b16499a66db7cca71e4599426f7d4"
	"61e66f99882bd89fc50800becca62d6c74116dbd2972fda1fa80f85df881edbe"
	"5a37668936b335583b599186dc5c6918a396fa48a181d6b6fa4f9d62d513afbb"
	"992f2b992f67f8afe67f76913fa388cb5630c8ca01e0c65d11c66a1e2ac4c859"
	"77b7c7a6999bbf10dc35ae69f5515614636c0b9b68c19ed2e31c0b3b66763038"
	"ebba42f3b38edc0399f3a9f23faa63978c317fc9fa66a73f60f0504de93b5b84"
	"5e275592c12335ee340bbc4fddd502784016e4b3be7ef04dda49f4b440a30cb5"
	"d2af939828fd4ae3794e44f94df5a631ede42c1719bfdabf0253fe5175be898e"
	"750edc53370d2b";
static const char rfc_rec_client_fin[] =
	"170303003575ec4dc238cce60b298044a71e219c56cc77b0517fe9b93c7a4bfc"
	"44d87f38f80338ac98fc46deb384bd1caeacab6867d726c40546";
static const char rfc_rec_nst[] =
	"17030300de3a6b8f90414a97d6959c3487680de5134a2b240e6cffac116e95d4"
	"1d6af8f6b580dcf3d11d63c758db289a015940252f55713e061dc13e078891a3"
	"8efbcf5753ad8ef170ad3c7353d16d9da773b9ca7f2b9fa1b6c0d4a3d03f75e0"
	"9c30ba1e62972ac46f75f7b981be63439b2999ce13064615139891d5e4c5b406"
	"f16e3fc181a77ca475840025db2f0a77f81b5ab05b94c01346755f69232c8651"
	"9d86cbeeac87aac347d143f9605d64f650db4d023e70e952ca49fe5137121c74"
	"bc2697687e248746d6df353005f3bce18696129c8153556b3b6c6779b37bf159"
	"85684f";
static const char rfc_rec_client_app[] =
	"1703030043a23f7054b62c94d0affafe8228ba55cbefacea42f914aa66bcab3f"
	"2b9819a8a5b46b395bd54a9a20441e2b62974e1f5a6292a2977014bd1e3deae6"
	"3aeebb21694915e4";
static const char rfc_rec_server_app[] =
	"17030300432e937e11ef4ac740e538ad36005fc4a46932fc3225d05f82aa1b36"
	"e30efaf97d90e6dffc602dcb501a59a8fcc49c4bf2e5f0a21c0047c2abf33254"
	"0dd032e167c2955d";
static const char rfc_rec_client_alert[] =
	"1703030013c9872760655666b74d7ff1153efd6db6d0b0e3";
static const char rfc_rec_server_alert[] =
	"1703030013b58fd67166ebf599d24720cfbe7efa7a8864a9";

#define SHA256 "SHA256"

static const char
    rfc_ikm[] = "8bd4054fb55b9d63fdfbacf9f04b9f0d35e6d63f537563efd46272900f89492d",
    rfc_early[] = "33ad0a1c607ec03b09e6cd9893680ce210adf300aa1f2660e1b22e10f170f92a",
    rfc_derived_hs[] = "6f2615a108c702c5678f54fc9dbab69716c076189c48250cebeac3576c3611ba",
    rfc_hs[] = "1dc826e93606aa6fdc0aadc12f741b01046aa6b99f691ed221a9f0ca043fbeac",
    rfc_h_sh[] = "860c06edc07858ee8e78f0e7428c58edd6b43f2ca3e6e95f02ed063cf0e1cad8",
    rfc_c_hs[] = "b3eddb126e067f35a780b3abf45e2d8f3b1a950738f52e9600746a0e27a55a21",
    rfc_s_hs[] = "b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad38",
    rfc_derived_ms[] = "43de77e0c77713859a944db9db2590b53190a65b3ee2e4f12dd7a0bb7ce254b4",
    rfc_master[] = "18df06843d13a08bf2a449844c5f8a478001bc4d4c627984d5a41da8d0402919",
    rfc_h_sf[] = "9608102a0f1ccc6db6250b7b7e417b1a000eaada3daae4777a7686c9ff83df13",
    rfc_c_ap[] = "9e40646ce79a7f9dc05af8889bce6552875afa0b06df0087f792ebb7c17504a5",
    rfc_s_ap[] = "a11af9f05531f856ad47116b45a950328204b4f44bfb6b3a4b4f1f3fcb631643",
    rfc_exp[] = "fe22f881176eda18eb8f44529e6792c50c9a3f89452f68d8ae311b4309d3cf50",
    rfc_h_cf[] = "209145a96ee8e2a122ff810047cc952684658d6049e86429426db87c54ad143d",
    rfc_res[] = "7df235f2031d2a051287d02b0241b0bfdaf86cc856231f2d5aba46c434ec196c",
    rfc_psk[] = "4ecd0eb6ec3b4d87f5d6028f922ca4c5851a277fd41311c9e62d2c9492e1c4f3",
    rfc_s_fin_key[] = "008d3b66f816ea559f96b537e885c31fc068bf492c652f01f288a1d8cdc19fc8",
    rfc_c_fin_key[] = "b80ad01015fb2f0bd65ff7d4da5d6bf83f84821d1f87fdc7d3c75b5a7b42d9c4",
    rfc_c_fin[] = "14000020a8ec436d677634ae525ac1fcebe11a039ec17694fac6e98527b642f2edd5ce61";

/* The four traffic secrets' write keys and IVs. */
static const struct {
	const char *what, *secret, *key, *iv;
} rfc_keys[] = {
	{ "server handshake", rfc_s_hs, "3fce516009c21727d0f2e4e86ee403bc",
	    "5d313eb2671276ee13000b30" },
	{ "client handshake", rfc_c_hs, "dbfaa693d1762c5b666af5d950258d01",
	    "5bd3c71b836e0b76bb73265f" },
	{ "server application", rfc_s_ap, "9f02283b6c9c07efc26bb9f2ac92e356",
	    "cf782b88dd83549aadf1e984" },
	{ "client application", rfc_c_ap, "17422dda596ed5d9acd890e3c63f5051",
	    "5b78923dee08579033e523d9" },
};

static bool
sha256_of(const uint8_t *const parts[], const size_t lens[], int n,
    const char *want)
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	uint8_t h[32];
	unsigned hl = 0;
	int i;

	EVP_DigestInit_ex(c, EVP_sha256(), NULL);
	for (i = 0; i < n; i++)
		EVP_DigestUpdate(c, parts[i], lens[i]);
	EVP_DigestFinal_ex(c, h, &hl);
	EVP_MD_CTX_free(c);
	return same_hex(h, hl, want);
}

static void
test_rfc8448_schedule(void)
{
	uint8_t ikm[32], early[32], hs[32], ms[32], out[64], h[32];
	uint8_t ch[256], sh[128];
	const uint8_t *parts[2];
	size_t lens[2], chl, shl;
	size_t i;

	chl = unhex(rfc_ch, ch, sizeof(ch));
	shl = unhex(rfc_sh, sh, sizeof(sh));
	parts[0] = ch; lens[0] = chl;
	parts[1] = sh; lens[1] = shl;
	CHECK(chl == 196 && shl == 90 && sha256_of(parts, lens, 2, rfc_h_sh),
	    "RFC 8448: transcript hash of ClientHello..ServerHello");
	unhex(rfc_ikm, ikm, sizeof(ikm));
	CHECK(iw_tls13_extract(SHA256, NULL, 0, NULL, 0, early, 32) == 0 &&
	    same_hex(early, 32, rfc_early),
	    "RFC 8448: early secret (extract, no PSK)");
	/* Derive-Secret(., "derived", "") hashes the empty transcript */
	EVP_Digest("", 0, h, NULL, EVP_sha256(), NULL);
	CHECK(iw_tls13_expand_label(SHA256, early, 32, "derived", h, 32, out,
	    32) == 0 && same_hex(out, 32, rfc_derived_hs),
	    "RFC 8448: derived secret for handshake");
	CHECK(iw_tls13_extract(SHA256, early, 32, ikm, 32, hs, 32) == 0 &&
	    same_hex(hs, 32, rfc_hs), "RFC 8448: handshake secret");
	unhex(rfc_h_sh, h, sizeof(h));
	CHECK(iw_tls13_expand_label(SHA256, hs, 32, "c hs traffic", h, 32,
	    out, 32) == 0 && same_hex(out, 32, rfc_c_hs),
	    "RFC 8448: client_handshake_traffic_secret");
	CHECK(iw_tls13_expand_label(SHA256, hs, 32, "s hs traffic", h, 32,
	    out, 32) == 0 && same_hex(out, 32, rfc_s_hs),
	    "RFC 8448: server_handshake_traffic_secret");
	EVP_Digest("", 0, h, NULL, EVP_sha256(), NULL);
	CHECK(iw_tls13_expand_label(SHA256, hs, 32, "derived", h, 32, out,
	    32) == 0 && same_hex(out, 32, rfc_derived_ms),
	    "RFC 8448: derived secret for master");
	CHECK(iw_tls13_extract(SHA256, hs, 32, NULL, 0, ms, 32) == 0 &&
	    same_hex(ms, 32, rfc_master), "RFC 8448: master secret");
	unhex(rfc_h_sf, h, sizeof(h));
	CHECK(iw_tls13_expand_label(SHA256, ms, 32, "c ap traffic", h, 32,
	    out, 32) == 0 && same_hex(out, 32, rfc_c_ap),
	    "RFC 8448: client_application_traffic_secret_0");
	CHECK(iw_tls13_expand_label(SHA256, ms, 32, "s ap traffic", h, 32,
	    out, 32) == 0 && same_hex(out, 32, rfc_s_ap),
	    "RFC 8448: server_application_traffic_secret_0");
	CHECK(iw_tls13_expand_label(SHA256, ms, 32, "exp master", h, 32,
	    out, 32) == 0 && same_hex(out, 32, rfc_exp),
	    "RFC 8448: exporter_master_secret");
	unhex(rfc_h_cf, h, sizeof(h));
	CHECK(iw_tls13_expand_label(SHA256, ms, 32, "res master", h, 32,
	    out, 32) == 0 && same_hex(out, 32, rfc_res),
	    "RFC 8448: resumption_master_secret");
	unhex(rfc_res, h, sizeof(h));
	CHECK(iw_tls13_expand_label(SHA256, h, 32, "resumption",
	    (const uint8_t *)"\0\0", 2, out, 32) == 0 &&
	    same_hex(out, 32, rfc_psk),
	    "RFC 8448: PSK of the ticket (nonce 0000)");
	unhex(rfc_s_hs, h, sizeof(h));
	CHECK(iw_tls13_expand_label(SHA256, h, 32, "finished", NULL, 0, out,
	    32) == 0 && same_hex(out, 32, rfc_s_fin_key),
	    "RFC 8448: server finished key");
	unhex(rfc_c_hs, h, sizeof(h));
	CHECK(iw_tls13_expand_label(SHA256, h, 32, "finished", NULL, 0, out,
	    32) == 0 && same_hex(out, 32, rfc_c_fin_key),
	    "RFC 8448: client finished key");
	for (i = 0; i < sizeof(rfc_keys) / sizeof(rfc_keys[0]); i++) {
		unhex(rfc_keys[i].secret, h, sizeof(h));
		CHECK(iw_tls13_expand_label(SHA256, h, 32, "key", NULL, 0, out,
		    16) == 0 && same_hex(out, 16, rfc_keys[i].key),
		    "RFC 8448: %s write key", rfc_keys[i].what);
		CHECK(iw_tls13_expand_label(SHA256, h, 32, "iv", NULL, 0, out,
		    12) == 0 && same_hex(out, 12, rfc_keys[i].iv),
		    "RFC 8448: %s write iv", rfc_keys[i].what);
	}
}

/* A whole record (header included) from the trace. */
struct rec {
	uint8_t	b[1024];
	size_t	n;
};

static struct rec
record(const char *hex)
{
	struct rec r;

	r.n = unhex(hex, r.b, sizeof(r.b));
	return r;
}

static struct iw_tls_rp *
rp13(const char *secret_hex)
{
	struct iw_tls_suite s;
	struct iw_tls_rp *rp = iw_tls_rp_new();
	uint8_t sec[32];

	unhex(secret_hex, sec, sizeof(sec));
	if (rp == NULL || !iw_tls_suite_info(0x1301, &s) ||
	    iw_tls_rp_set13(rp, &s, sec, 32) != 0) {
		iw_tls_rp_free(rp);
		return NULL;
	}
	return rp;
}

static enum iw_tls_rp_result
open_rec(struct iw_tls_rp *rp, const struct rec *r, uint8_t *out,
    size_t *len, uint8_t *type)
{
	return iw_tls_rp_open(rp, r->b[0], (uint16_t)(r->b[1] << 8 | r->b[2]),
	    r->b + 5, r->n - 5, out, len, type);
}

static bool
is_counting(const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] != i)
			return false;
	return n == 50;
}

static void
test_rfc8448_records(void)
{
	static uint8_t out[IW_TLS12_CIPHER_MAX], flight[1024];
	struct iw_tls_rp *shs = rp13(rfc_s_hs), *chs = rp13(rfc_c_hs);
	struct iw_tls_rp *sap = rp13(rfc_s_ap), *cap = rp13(rfc_c_ap);
	struct rec r;
	uint8_t ch[256], sh[128], type = 0;
	const uint8_t *parts[4];
	size_t lens[4], n = 0, fl = 0;

	if (!CHECK(shs && chs && sap && cap, "RFC 8448: record keys set"))
		goto out;
	lens[0] = unhex(rfc_ch, ch, sizeof(ch));
	lens[1] = unhex(rfc_sh, sh, sizeof(sh));
	parts[0] = ch;
	parts[1] = sh;

	r = record(rfc_rec_server_hs);
	CHECK(r.n == 679 && open_rec(shs, &r, out, &n, &type) == IW_RP_OK &&
	    type == 22 && n == 657, "RFC 8448: server's encrypted flight "
	    "opens (inner type handshake, 657 bytes)");
	memcpy(flight, out, n);
	fl = n;
	parts[2] = flight;
	lens[2] = fl;
	CHECK(fl == 657 && flight[0] == 8 && sha256_of(parts, lens, 3,
	    rfc_h_sf), "RFC 8448: its plaintext is EncryptedExtensions.."
	    "Finished: the transcript hash matches the trace's");

	r = record(rfc_rec_client_fin);
	CHECK(open_rec(chs, &r, out, &n, &type) == IW_RP_OK && type == 22 &&
	    same_hex(out, n, rfc_c_fin), "RFC 8448: client Finished opens");
	parts[3] = out;
	lens[3] = n;
	CHECK(sha256_of(parts, lens, 4, rfc_h_cf),
	    "RFC 8448: transcript through the client Finished matches");

	r = record(rfc_rec_nst);
	CHECK(open_rec(sap, &r, out, &n, &type) == IW_RP_OK && type == 22 &&
	    n == 205 && out[0] == 4 && out[3] == 0xc9,
	    "RFC 8448: NewSessionTicket opens (server application key, "
	    "sequence 0)");
	r = record(rfc_rec_client_app);
	/* a flipped tag byte: refused, and nothing advances */
	r.b[r.n - 1] ^= 1;
	CHECK(open_rec(cap, &r, out, &n, &type) == IW_RP_BAD_MAC &&
	    iw_tls_rp_seq(cap) == 0, "a record with a flipped tag bit fails "
	    "authentication; the sequence number stays");
	r.b[r.n - 1] ^= 1;
	r.b[10] ^= 0x80;
	CHECK(open_rec(cap, &r, out, &n, &type) == IW_RP_BAD_MAC,
	    "a record with a flipped ciphertext bit fails authentication");
	r.b[10] ^= 0x80;
	CHECK(open_rec(cap, &r, out, &n, &type) == IW_RP_OK && type == 23 &&
	    is_counting(out, n), "RFC 8448: client application data opens "
	    "(00..31)");
	r = record(rfc_rec_server_app);
	CHECK(open_rec(sap, &r, out, &n, &type) == IW_RP_OK && type == 23 &&
	    is_counting(out, n), "RFC 8448: server application data opens "
	    "(sequence 1)");
	r = record(rfc_rec_client_alert);
	CHECK(open_rec(cap, &r, out, &n, &type) == IW_RP_OK && type == 21 &&
	    n == 2 && out[0] == 1 && out[1] == 0,
	    "RFC 8448: client close_notify opens");
	r = record(rfc_rec_server_alert);
	CHECK(open_rec(sap, &r, out, &n, &type) == IW_RP_OK && type == 21 &&
	    n == 2 && out[0] == 1 && out[1] == 0,
	    "RFC 8448: server close_notify opens");
	CHECK(open_rec(sap, &r, out, &n, &type) == IW_RP_BAD_MAC,
	    "the same record again (replay, wrong sequence) fails");

	/* lengths */
	r = record(rfc_rec_client_alert);
	CHECK(iw_tls_rp_open(cap, 23, 0x0303, r.b + 5, 16, out, &n, &type) ==
	    IW_RP_MALFORMED, "a TLS 1.3 record shorter than tag + type is "
	    "malformed");
	CHECK(iw_tls_rp_open(cap, 23, 0x0303, out, IW_TLS13_CIPHER_MAX + 1,
	    out, &n, &type) == IW_RP_MALFORMED,
	    "a TLS 1.3 record over 2^14+256 bytes is malformed");
	CHECK(iw_tls_rp_open(cap, 22, 0x0303, r.b + 5, r.n - 5, out, &n,
	    &type) == IW_RP_MALFORMED,
	    "a TLS 1.3 protected record must say application_data");
out:
	iw_tls_rp_free(shs);
	iw_tls_rp_free(chs);
	iw_tls_rp_free(sap);
	iw_tls_rp_free(cap);
}

/* ---- the RFC 8448 trace through a session ---- */

struct sink {
	uint8_t		 data[2][2048];
	size_t		 n[2];
	int		 records[2][25];	/* by content type */
	int		 stops;
	enum iw_tlsd_state last_stop;
	bool		 have_keys;
	struct iw_tls_secrets keys;
	int		 lookups;
};

static void
sink_plain(void *arg, enum iw_dir dir, uint8_t type, const uint8_t *p,
    size_t n)
{
	struct sink *s = arg;

	if (type < 25)
		s->records[dir][type]++;
	if (type == 23 && s->n[dir] + n <= sizeof(s->data[dir])) {
		memcpy(s->data[dir] + s->n[dir], p, n);
		s->n[dir] += n;
	}
}

static bool
sink_keys(void *arg, const uint8_t *random, struct iw_tls_secrets *out)
{
	struct sink *s = arg;

	s->lookups++;
	if (!s->have_keys)
		return false;
	*out = s->keys;
	return true;
}

static void
sink_stop(void *arg, enum iw_dir dir, enum iw_tlsd_state why)
{
	struct sink *s = arg;

	s->stops++;
	s->last_stop = why;
}

static const struct iw_tlsd_ops sink_ops = { sink_plain, sink_keys,
    sink_stop };

static void
put_secret(struct iw_tls_secrets *s, enum iw_tls_secret_kind k,
    const char *hex)
{
	s->len[k] = (uint8_t)unhex(hex, s->v[k], sizeof(s->v[k]));
}

/* Feeds one record; handshake bodies get their record header. */
static enum iw_tlsd_rec
feed(struct iw_tlsd *t, enum iw_dir dir, const struct rec *r)
{
	return iw_tlsd_record(t, dir, r->b[0], (uint16_t)(r->b[1] << 8 |
	    r->b[2]), r->b + 5, r->n - 5);
}

static struct rec
hs_record(const char *msg_hex)
{
	struct rec r;

	r.n = 5 + unhex(msg_hex, r.b + 5, sizeof(r.b) - 5);
	r.b[0] = 22;
	r.b[1] = 3;
	r.b[2] = 3;
	r.b[3] = (uint8_t)((r.n - 5) >> 8);
	r.b[4] = (uint8_t)(r.n - 5);
	return r;
}

static void
rfc_trace(struct iw_tlsd *t, struct sink *s, enum iw_tlsd_rec got[9])
{
	struct rec ch = hs_record(rfc_ch), sh = hs_record(rfc_sh), r;

	got[0] = feed(t, IW_TO_SERVER, &ch);
	got[1] = feed(t, IW_TO_CLIENT, &sh);
	r = record(rfc_rec_server_hs);
	got[2] = feed(t, IW_TO_CLIENT, &r);
	r = record(rfc_rec_client_fin);
	got[3] = feed(t, IW_TO_SERVER, &r);
	r = record(rfc_rec_nst);
	got[4] = feed(t, IW_TO_CLIENT, &r);
	r = record(rfc_rec_client_app);
	got[5] = feed(t, IW_TO_SERVER, &r);
	r = record(rfc_rec_server_app);
	got[6] = feed(t, IW_TO_CLIENT, &r);
	r = record(rfc_rec_client_alert);
	got[7] = feed(t, IW_TO_SERVER, &r);
	r = record(rfc_rec_server_alert);
	got[8] = feed(t, IW_TO_CLIENT, &r);
}

static void
test_rfc8448_session(void)
{
	struct sink s;
	struct iw_tlsd *t;
	enum iw_tlsd_rec got[9];
	int i, dec = 0;

	memset(&s, 0, sizeof(s));
	s.have_keys = true;
	put_secret(&s.keys, IW_TLS_C_HS, rfc_c_hs);
	put_secret(&s.keys, IW_TLS_S_HS, rfc_s_hs);
	put_secret(&s.keys, IW_TLS_C_AP, rfc_c_ap);
	put_secret(&s.keys, IW_TLS_S_AP, rfc_s_ap);
	t = iw_tlsd_new(&sink_ops, &s, 0);
	rfc_trace(t, &s, got);
	for (i = 2; i < 9; i++)
		dec += got[i] == IW_TLSD_DECRYPTED;
	CHECK(got[0] == IW_TLSD_CLEAR && got[1] == IW_TLSD_CLEAR && dec == 7,
	    "RFC 8448 through a session: hellos clear, all 7 protected "
	    "records decrypted (%d)", dec);
	CHECK(iw_tlsd_version(t) == 0x0304 && iw_tlsd_suite(t) == 0x1301 &&
	    s.lookups == 1, "the session read TLS 1.3, "
	    "TLS_AES_128_GCM_SHA256 and looked its keys up once");
	CHECK(s.records[IW_TO_CLIENT][22] == 2 &&
	    s.records[IW_TO_SERVER][22] == 1 &&
	    s.records[IW_TO_CLIENT][21] == 1 &&
	    s.records[IW_TO_SERVER][21] == 1,
	    "handshake and alert records went out with their inner types");
	CHECK(is_counting(s.data[IW_TO_SERVER], s.n[IW_TO_SERVER]) &&
	    is_counting(s.data[IW_TO_CLIENT], s.n[IW_TO_CLIENT]),
	    "the application data of both directions is the trace's");
	CHECK(iw_tlsd_state(t, IW_TO_SERVER) == IW_TLSD_ACTIVE &&
	    iw_tlsd_state(t, IW_TO_CLIENT) == IW_TLSD_ACTIVE && s.stops == 0,
	    "both directions still decrypting at the end");
	iw_tlsd_free(t);

	/* no key logged: both directions say so, nothing is decrypted */
	memset(&s, 0, sizeof(s));
	t = iw_tlsd_new(&sink_ops, &s, 0);
	rfc_trace(t, &s, got);
	CHECK(got[2] == IW_TLSD_OPAQUE && got[5] == IW_TLSD_OPAQUE &&
	    iw_tlsd_state(t, IW_TO_SERVER) == IW_TLSD_NO_KEYS &&
	    iw_tlsd_state(t, IW_TO_CLIENT) == IW_TLSD_NO_KEYS && s.stops == 2 &&
	    s.n[0] + s.n[1] == 0, "no key in the log: no_keys both ways, "
	    "reported once each, nothing decrypted");
	iw_tlsd_free(t);

	/* a wrong server handshake secret: that direction fails at once */
	memset(&s, 0, sizeof(s));
	s.have_keys = true;
	put_secret(&s.keys, IW_TLS_C_HS, rfc_c_hs);
	put_secret(&s.keys, IW_TLS_S_HS, rfc_c_hs);
	put_secret(&s.keys, IW_TLS_C_AP, rfc_c_ap);
	put_secret(&s.keys, IW_TLS_S_AP, rfc_s_ap);
	t = iw_tlsd_new(&sink_ops, &s, 0);
	rfc_trace(t, &s, got);
	CHECK(got[2] == IW_TLSD_OPAQUE && got[4] == IW_TLSD_OPAQUE &&
	    iw_tlsd_state(t, IW_TO_CLIENT) == IW_TLSD_AUTH_FAILED &&
	    iw_tlsd_counts(t)->auth_failures == 1 &&
	    s.records[IW_TO_CLIENT][22] == 0 && s.n[IW_TO_CLIENT] == 0,
	    "a wrong key: authentication fails, the direction stops, no "
	    "byte of garbage comes out");
	CHECK(got[3] == IW_TLSD_DECRYPTED &&
	    is_counting(s.data[IW_TO_SERVER], s.n[IW_TO_SERVER]),
	    "the other direction, keyed right, still decrypts");
	iw_tlsd_free(t);

	/* keys that come late: held, then decrypted on retry */
	memset(&s, 0, sizeof(s));
	t = iw_tlsd_new(&sink_ops, &s, 64 * 1024);
	rfc_trace(t, &s, got);
	CHECK(got[2] == IW_TLSD_HELD && got[8] == IW_TLSD_HELD &&
	    iw_tlsd_state(t, IW_TO_CLIENT) == IW_TLSD_WAITING &&
	    iw_tlsd_held(t) > 1000 && !iw_tlsd_retry(t),
	    "keys not logged yet: records held, waiting");
	s.have_keys = true;
	put_secret(&s.keys, IW_TLS_C_HS, rfc_c_hs);
	put_secret(&s.keys, IW_TLS_S_HS, rfc_s_hs);
	put_secret(&s.keys, IW_TLS_C_AP, rfc_c_ap);
	put_secret(&s.keys, IW_TLS_S_AP, rfc_s_ap);
	CHECK(iw_tlsd_retry(t) && iw_tlsd_held(t) == 0 &&
	    is_counting(s.data[IW_TO_SERVER], s.n[IW_TO_SERVER]) &&
	    is_counting(s.data[IW_TO_CLIENT], s.n[IW_TO_CLIENT]) &&
	    iw_tlsd_counts(t)->records[0] + iw_tlsd_counts(t)->records[1] == 7,
	    "the log grew: retry decrypts all that was held, in order");
	iw_tlsd_free(t);

	/* over the hold budget: dropped, counted */
	memset(&s, 0, sizeof(s));
	t = iw_tlsd_new(&sink_ops, &s, 600);
	rfc_trace(t, &s, got);
	CHECK(got[2] == IW_TLSD_OPAQUE &&
	    iw_tlsd_state(t, IW_TO_CLIENT) == IW_TLSD_HOLD_FULL &&
	    iw_tlsd_held(t) == 0 && iw_tlsd_counts(t)->held_dropped >= 674,
	    "a record over the hold budget: hold_full, nothing kept");
	iw_tlsd_free(t);

	/* give up after waiting */
	memset(&s, 0, sizeof(s));
	t = iw_tlsd_new(&sink_ops, &s, 64 * 1024);
	rfc_trace(t, &s, got);
	iw_tlsd_give_up(t);
	CHECK(iw_tlsd_state(t, IW_TO_SERVER) == IW_TLSD_NO_KEYS &&
	    iw_tlsd_held(t) == 0, "giving up: no_keys, the hold freed");
	iw_tlsd_free(t);

	/* a gap stops a direction */
	memset(&s, 0, sizeof(s));
	s.have_keys = true;
	put_secret(&s.keys, IW_TLS_C_HS, rfc_c_hs);
	put_secret(&s.keys, IW_TLS_S_HS, rfc_s_hs);
	t = iw_tlsd_new(&sink_ops, &s, 0);
	{
		struct rec ch = hs_record(rfc_ch), sh = hs_record(rfc_sh), r;

		feed(t, IW_TO_SERVER, &ch);
		feed(t, IW_TO_CLIENT, &sh);
		iw_tlsd_gap(t, IW_TO_CLIENT);
		r = record(rfc_rec_server_hs);
		got[2] = feed(t, IW_TO_CLIENT, &r);
		r = record(rfc_rec_client_fin);
		got[3] = feed(t, IW_TO_SERVER, &r);
		r = record(rfc_rec_client_app);
		got[5] = feed(t, IW_TO_SERVER, &r);
	}
	CHECK(iw_tlsd_state(t, IW_TO_CLIENT) == IW_TLSD_GAP &&
	    got[2] == IW_TLSD_OPAQUE && got[3] == IW_TLSD_DECRYPTED,
	    "a gap stops its direction only");
	CHECK(iw_tlsd_state(t, IW_TO_SERVER) == IW_TLSD_NO_KEYS &&
	    got[5] == IW_TLSD_OPAQUE, "no application secret logged: the "
	    "client stops after its Finished with no_keys");
	iw_tlsd_free(t);
}

/* ---- TLS 1.2 PRF ---- */

static void
test_prf(void)
{
	uint8_t secret[16], seed[16], out[148];

	unhex("9bbe436ba940f017b17652849a71db35", secret, 16);
	unhex("a0ba9f936cda311827a6f796ffd5198c", seed, 16);
	CHECK(iw_tls_prf("SHA256", secret, 16, "test label", seed, 16, NULL,
	    0, out, 100) == 0 && same_hex(out, 100,
	    "e3f229ba727be17b8d122620557cd453c2aab21d07c3d495329b52d4e61edb5a"
	    "6b301791e90d35c9c9a46b4e14baf9af0fa022f7077def17abfd3797c0564bab"
	    "4fbc91666e9def9b97fce34f796789baa48082d122ee42c5a72e5a5110fff701"
	    "87347b66"), "TLS 1.2 PRF SHA-256: the IETF TLS list vector");
	/* the seed split in two gives the same */
	CHECK(iw_tls_prf("SHA256", secret, 16, "test label", seed, 5,
	    seed + 5, 11, out, 100) == 0 && out[0] == 0xe3 && out[99] == 0x66,
	    "TLS 1.2 PRF: a seed in two pieces is their concatenation");
	unhex("b80b733d6ceefcdc71566ea48e5567df", secret, 16);
	unhex("cd665cf6a8447dd6ff8b27555edb7465", seed, 16);
	CHECK(iw_tls_prf("SHA384", secret, 16, "test label", seed, 16, NULL,
	    0, out, 148) == 0 && same_hex(out, 148,
	    "7b0c18e9ced410ed1804f2cfa34a336a1c14dffb4900bb5fd7942107e81c83cd"
	    "e9ca0faa60be9fe34f82b1233c9146a0e534cb400fed2700884f9dc236f80edd"
	    "8bfa961144c9e8d792eca722a7b32fc3d416d473ebc2c5fd4abfdad05d918425"
	    "9b5bf8cd4d90fa0d31e2dec479e4f1a26066f2eea9a69236a3e52655c9e9aee6"
	    "91c8f3a26854308d5eaa3be85e0990703d73e56f"),
	    "TLS 1.2 PRF SHA-384: the IETF TLS list vector");
}

/* ---- suites from their names ---- */

static void
test_suites(void)
{
	static const struct {
		uint16_t id;
		bool ok;
		enum iw_tls_rp_mode mode;
		const char *mac, *prf;
		uint8_t key, tag;
	} cases[] = {
		{ 0x1301, true, IW_RP_GCM, NULL, "SHA256", 16, 16 },
		{ 0x1302, true, IW_RP_GCM, NULL, "SHA384", 32, 16 },
		{ 0x1303, true, IW_RP_CHACHA, NULL, "SHA256", 32, 16 },
		{ 0x1304, true, IW_RP_CCM, NULL, "SHA256", 16, 16 },
		{ 0x1305, true, IW_RP_CCM, NULL, "SHA256", 16, 8 },
		{ 0xc02f, true, IW_RP_GCM, NULL, "SHA256", 16, 16 },
		{ 0xc030, true, IW_RP_GCM, NULL, "SHA384", 32, 16 },
		{ 0xcca8, true, IW_RP_CHACHA, NULL, "SHA256", 32, 16 },
		{ 0xc0ac, true, IW_RP_CCM, NULL, "SHA256", 16, 16 },
		{ 0xc0ae, true, IW_RP_CCM, NULL, "SHA256", 16, 8 },
		{ 0xc013, true, IW_RP_CBC, "SHA1", "SHA256", 16, 0 },
		{ 0xc028, true, IW_RP_CBC, "SHA384", "SHA384", 32, 0 },
		{ 0x003c, true, IW_RP_CBC, "SHA256", "SHA256", 16, 0 },
		{ 0x0041, true, IW_RP_CBC, "SHA1", "SHA256", 16, 0 },
		{ 0x000a, false, 0, NULL, NULL, 0, 0 },	/* 3DES: libssl has
							 * it no more */
		{ 0x0005, false, 0, NULL, NULL, 0, 0 },	/* RC4 */
		{ 0x0002, false, 0, NULL, NULL, 0, 0 },	/* NULL */
		{ 0x0009, false, 0, NULL, NULL, 0, 0 },	/* DES */
		{ 0x0007, false, 0, NULL, NULL, 0, 0 },	/* IDEA */
		{ 0x00ff, false, 0, NULL, NULL, 0, 0 },	/* SCSV */
		{ 0x1306, false, 0, NULL, NULL, 0, 0 },	/* AEGIS */
		{ 0xfafa, false, 0, NULL, NULL, 0, 0 },	/* GREASE */
		{ 0xc103, false, 0, NULL, NULL, 0, 0 },	/* GOST MGM */
	};
	struct iw_tls_suite s;
	size_t i;
	bool ok;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ok = iw_tls_suite_info(cases[i].id, &s);
		if (!cases[i].ok) {
			CHECK(!ok, "suite 0x%04x is not supported",
			    cases[i].id);
			continue;
		}
		CHECK(ok && s.mode == cases[i].mode && s.key_len ==
		    cases[i].key && s.tag_len == cases[i].tag &&
		    strcmp(s.prf, cases[i].prf) == 0 && (cases[i].mac == NULL ?
		    s.mac == NULL : strcmp(s.mac, cases[i].mac) == 0),
		    "suite 0x%04x read from its IANA name", cases[i].id);
	}
}

/* ---- the key log loader ---- */

static char notes[8192];

static void
note_cb(void *arg, const char *msg)
{
	int *count = arg;

	(*count)++;
	strncat(notes, msg, sizeof(notes) - strlen(notes) - 2);
	strcat(notes, "\n");
}

static void
random_of(int i, uint8_t r[32])
{
	int k;

	for (k = 0; k < 32; k++)
		r[k] = (uint8_t)(i * 7 + k);
	r[0] = (uint8_t)i;		/* spread over shards */
}

static void
hexstr(const uint8_t *p, size_t n, char *out)
{
	size_t i;

	for (i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", p[i]);
}

/* A line LABEL <random i> <secret: byte fill repeated len times>. */
static void
line(FILE *fp, const char *label, int i, int fill, size_t len)
{
	uint8_t r[32], sec[64];
	char rh[65], sh[129];

	random_of(i, r);
	memset(sec, fill, len);
	hexstr(r, 32, rh);
	hexstr(sec, len, sh);
	fprintf(fp, "%s %s %s\n", label, rh, sh);
}

static bool
has_secret(struct iw_keylog *kl, int i, enum iw_tls_secret_kind k, int fill,
    size_t len)
{
	struct iw_tls_secrets s;
	uint8_t r[32];
	size_t j;
	bool ok;

	random_of(i, r);
	if (!iw_keylog_lookup(kl, r, &s))
		return false;
	ok = s.len[k] == len;
	for (j = 0; ok && j < len; j++)
		ok = s.v[k][j] == fill;
	iw_tls_secrets_wipe(&s);
	return ok;
}

static bool
known(struct iw_keylog *kl, int i)
{
	struct iw_tls_secrets s;
	uint8_t r[32];
	bool ok;

	random_of(i, r);
	ok = iw_keylog_lookup(kl, r, &s);
	iw_tls_secrets_wipe(&s);
	return ok;
}

static void
test_keylog_lines(const char *dir)
{
	char path[256], err[256], badsecret[129];
	struct iw_keylog_stats st;
	struct iw_keylog *kl = iw_keylog_new(0);
	int nnotes = 0, rc;
	FILE *fp;

	snprintf(path, sizeof(path), "%s/lines.keylog", dir);
	fp = fopen(path, "w");
	fprintf(fp, "# SSL/TLS secrets log file, generated by OpenSSL\n\n");
	line(fp, "CLIENT_RANDOM", 1, 0x11, 48);			/* 3 */
	line(fp, "CLIENT_EARLY_TRAFFIC_SECRET", 2, 0x21, 32);	/* 4 */
	line(fp, "CLIENT_HANDSHAKE_TRAFFIC_SECRET", 2, 0x22, 32);
	line(fp, "SERVER_HANDSHAKE_TRAFFIC_SECRET", 2, 0x23, 32);
	line(fp, "CLIENT_TRAFFIC_SECRET_0", 2, 0x24, 48);
	line(fp, "SERVER_TRAFFIC_SECRET_0", 2, 0x25, 48);	/* 8 */
	line(fp, "EXPORTER_SECRET", 2, 0x26, 32);		/* 9: other */
	fprintf(fp, "CLIENT_RANDOM 0011 2233\n");		/* 10: bad */
	line(fp, "CLIENT_RANDOM", 3, 0x31, 32);			/* 11: bad len */
	memset(badsecret, 'z', 96);
	badsecret[96] = '\0';
	fprintf(fp, "CLIENT_RANDOM %064d %s\n", 0, badsecret);	/* 12: bad */
	fprintf(fp, "only two\n");				/* 13: bad */
	fprintf(fp, "client_random %064d %096d\n", 0, 0);	/* 14: bad */
	fprintf(fp, "%0600d\n", 7);				/* 15: long */
	line(fp, "CLIENT_RANDOM", 4, 0x41, 48);			/* 16 */
	/* 17: blanks around the fields, CRLF */
	fprintf(fp, "  CLIENT_RANDOM\t%s  %s\r\n",
	    "0505050505050505050505050505050505050505050505050505050505050505",
	    "5151515151515151515151515151515151515151515151515151515151515151"
	    "51515151515151515151515151515151");
	fprintf(fp, "SERVER_TRAFFIC_SECRET_0 %064d 00 extra\n", 9); /* 18 */
	/* 19: a secret longer than any (found by fuzz_keylog: it was
	 * decoded before its length was checked) */
	fprintf(fp, "CLIENT_RANDOM %064d %0400d\n", 1, 0);
	fclose(fp);
	chmod(path, 0600);
	if (iw_keylog_add_file(kl, path, err, sizeof(err)) != 0)
		printf("# %s\n", err);
	notes[0] = '\0';
	rc = iw_keylog_poll(kl, note_cb, &nnotes);
	iw_keylog_get_stats(kl, &st);
	CHECK(rc == 4 && st.keys == 4 && st.secrets == 8,
	    "key log: 8 secret lines for 4 client randoms (%d, %llu, %llu)",
	    rc, (unsigned long long)st.keys, (unsigned long long)st.secrets);
	CHECK(has_secret(kl, 1, IW_TLS_MASTER, 0x11, 48) &&
	    has_secret(kl, 2, IW_TLS_C_EARLY, 0x21, 32) &&
	    has_secret(kl, 2, IW_TLS_C_HS, 0x22, 32) &&
	    has_secret(kl, 2, IW_TLS_S_HS, 0x23, 32) &&
	    has_secret(kl, 2, IW_TLS_C_AP, 0x24, 48) &&
	    has_secret(kl, 2, IW_TLS_S_AP, 0x25, 48) &&
	    has_secret(kl, 4, IW_TLS_MASTER, 0x41, 48),
	    "key log: every label's secret found by its client random");
	{
		uint8_t r[32];
		struct iw_tls_secrets s;

		memset(r, 5, sizeof(r));
		CHECK(iw_keylog_lookup(kl, r, &s) && s.len[IW_TLS_MASTER] ==
		    48 && s.v[IW_TLS_MASTER][47] == 0x51,
		    "key log: blanks around fields and CRLF are accepted");
		iw_tls_secrets_wipe(&s);
	}
	CHECK(!known(kl, 3) && !known(kl, 99), "key log: a random with only "
	    "bad lines, or never logged, is not found");
	CHECK(st.bad_lines == 8 && st.ignored_lines == 1 && st.lines == 19,
	    "key log: 8 bad lines, 1 other label, 19 lines (%llu %llu %llu)",
	    (unsigned long long)st.bad_lines,
	    (unsigned long long)st.ignored_lines,
	    (unsigned long long)st.lines);
	CHECK(strstr(notes, "lines.keylog:10: ") && strstr(notes,
	    "lines.keylog:11: ") && strstr(notes, "lines.keylog:12: ") &&
	    strstr(notes, "lines.keylog:13: ") && strstr(notes,
	    "lines.keylog:14: ") && strstr(notes, "lines.keylog:15: ") &&
	    strstr(notes, "lines.keylog:18: ") && strstr(notes,
	    "lines.keylog:19: ") && nnotes == 8,
	    "key log: each bad line reported by its number");
	CHECK(strstr(notes, "2233") == NULL && strstr(notes, "zzzz") ==
	    NULL && strstr(notes, "3131") == NULL && strstr(notes, "0000000")
	    == NULL && strstr(notes, "client_random") == NULL,
	    "key log: no report echoes any part of a bad line");
	rc = iw_keylog_poll(kl, note_cb, &nnotes);
	iw_keylog_get_stats(kl, &st);
	CHECK(rc == 0 && st.lines == 19 && st.publishes == 1 && nnotes == 8,
	    "key log: a poll with nothing new reads nothing, publishes "
	    "nothing, reports nothing again");
	iw_keylog_free(kl);
}

static void
test_keylog_growth(const char *dir)
{
	char path[256], moved[300], err[256];
	struct iw_keylog_stats st;
	struct iw_keylog *kl = iw_keylog_new(0);
	int nnotes = 0, rc;
	uint64_t gen;
	FILE *fp;

	snprintf(path, sizeof(path), "%s/grow.keylog", dir);
	fp = fopen(path, "w");
	line(fp, "CLIENT_RANDOM", 10, 0x10, 48);
	fclose(fp);
	chmod(path, 0644);
	iw_keylog_add_file(kl, path, err, sizeof(err));
	notes[0] = '\0';
	rc = iw_keylog_poll(kl, note_cb, &nnotes);
	gen = iw_keylog_generation(kl);
	CHECK(rc == 1 && known(kl, 10) && gen == 1,
	    "growth: first poll takes the first line");
	CHECK(nnotes == 1 && strstr(notes, "readable by every user") &&
	    strstr(notes, "grow.keylog"), "a world-readable key log gets a "
	    "warning naming the file");
	/* a line written in two pieces: nothing until its newline */
	fp = fopen(path, "a");
	fprintf(fp, "CLIENT_RANDOM ");
	fclose(fp);
	rc = iw_keylog_poll(kl, note_cb, &nnotes);
	iw_keylog_get_stats(kl, &st);
	CHECK(rc == 0 && st.lines == 1 && st.bad_lines == 0 &&
	    iw_keylog_generation(kl) == gen, "growth: a line without its "
	    "newline waits");
	fp = fopen(path, "a");
	{
		uint8_t r[32];
		char rh[65];

		random_of(11, r);
		hexstr(r, 32, rh);
		fprintf(fp, "%s %0*d\n", rh, 96, 0);
	}
	line(fp, "CLIENT_RANDOM", 12, 0x12, 48);
	fclose(fp);
	rc = iw_keylog_poll(kl, note_cb, &nnotes);
	iw_keylog_get_stats(kl, &st);
	CHECK(rc == 2 && known(kl, 11) && known(kl, 12) && known(kl, 10) &&
	    st.lines == 3 && iw_keylog_generation(kl) == gen + 1,
	    "growth: the appended part alone is read; the split line is whole");
	CHECK(nnotes == 1, "the world-readable warning is given once");
	/* truncated and rewritten: read again from the start */
	fp = fopen(path, "w");
	line(fp, "CLIENT_RANDOM", 13, 0x13, 48);
	fclose(fp);
	rc = iw_keylog_poll(kl, note_cb, &nnotes);
	iw_keylog_get_stats(kl, &st);
	CHECK(rc == 1 && st.truncated == 1 && known(kl, 13) && known(kl, 10),
	    "truncation: the file is read again, older keys stay");
	/* rotated: moved away, a new file in its place */
	snprintf(moved, sizeof(moved), "%s.1", path);
	rename(path, moved);
	fp = fopen(path, "w");
	line(fp, "CLIENT_RANDOM", 14, 0x14, 48);
	line(fp, "CLIENT_RANDOM", 15, 0x15, 48);
	fclose(fp);
	chmod(path, 0600);
	rc = iw_keylog_poll(kl, note_cb, &nnotes);
	iw_keylog_get_stats(kl, &st);
	CHECK(rc == 2 && st.rotated == 1 && known(kl, 14) && known(kl, 15),
	    "rotation: a new inode is read from its start");
	/* a new line for a known random adds to it */
	fp = fopen(path, "a");
	line(fp, "CLIENT_TRAFFIC_SECRET_0", 15, 0x16, 32);
	fclose(fp);
	rc = iw_keylog_poll(kl, note_cb, &nnotes);
	CHECK(rc == 1 && has_secret(kl, 15, IW_TLS_MASTER, 0x15, 48) &&
	    has_secret(kl, 15, IW_TLS_C_AP, 0x16, 32),
	    "a later line for a known random adds its secret");
	unlink(path);
	rc = iw_keylog_poll(kl, note_cb, &nnotes);
	rc += iw_keylog_poll(kl, note_cb, &nnotes);
	iw_keylog_get_stats(kl, &st);
	CHECK(rc == 0 && st.unreadable == 2 && nnotes == 2 && known(kl, 14),
	    "a file gone: one note, keys kept");
	unlink(moved);
	iw_keylog_free(kl);
}

static void
test_keylog_cap(const char *dir)
{
	char path[256], err[256];
	struct iw_keylog_stats st;
	struct iw_keylog *kl = iw_keylog_new(4);
	FILE *fp;
	int i, rc, nnotes = 0;

	snprintf(path, sizeof(path), "%s/cap.keylog", dir);
	fp = fopen(path, "w");
	for (i = 1; i <= 6; i++)
		line(fp, "CLIENT_RANDOM", i, i, 48);
	line(fp, "CLIENT_TRAFFIC_SECRET_0", 2, 0x77, 32);	/* evicted */
	fclose(fp);
	chmod(path, 0600);
	iw_keylog_add_file(kl, path, err, sizeof(err));
	rc = iw_keylog_poll(kl, note_cb, &nnotes);
	iw_keylog_get_stats(kl, &st);
	CHECK(rc == 6 && st.keys == 4 && st.evicted == 2 && !known(kl, 1) &&
	    !known(kl, 2) && known(kl, 3) && known(kl, 6),
	    "cap 4: six randoms, the two logged first evicted; the late line "
	    "for an evicted one is dropped (%d new or updated)", rc);
	fp = fopen(path, "a");
	line(fp, "CLIENT_RANDOM", 7, 7, 48);
	line(fp, "CLIENT_RANDOM", 3, 0x33, 48);		/* update, stays */
	fclose(fp);
	rc = iw_keylog_poll(kl, note_cb, &nnotes);
	iw_keylog_get_stats(kl, &st);
	CHECK(st.keys == 4 && st.evicted == 3 && !known(kl, 3) &&
	    known(kl, 4) && known(kl, 7), "cap 4: one more evicts the oldest "
	    "(an update does not make a random younger)");
	iw_keylog_free(kl);
	/* many more than the cap in one file */
	kl = iw_keylog_new(100);
	fp = fopen(path, "w");
	for (i = 0; i < 20000; i++)
		line(fp, "CLIENT_RANDOM", i, i & 0xff, 48);
	fclose(fp);
	iw_keylog_add_file(kl, path, err, sizeof(err));
	rc = iw_keylog_poll(kl, note_cb, &nnotes);
	iw_keylog_get_stats(kl, &st);
	CHECK(st.keys == 100 && st.evicted == 19900 && known(kl, 19999) &&
	    known(kl, 19900) && !known(kl, 19899) && st.publishes == 1,
	    "cap 100, 20000 lines: the last 100 stay, one publish");
	iw_keylog_free(kl);
	unlink(path);
}

/* Readers in threads while the loader publishes. */
struct reader_arg {
	struct iw_keylog	*kl;
	atomic_int		*stop;
	atomic_long		 lookups;
	long			 misses;
};

static void *
reader(void *p)
{
	struct reader_arg *a = p;
	struct iw_tls_secrets s;
	struct iw_keys_snap *sn;
	uint8_t r[32];

	while (!atomic_load(a->stop)) {
		sn = iw_keylog_acquire(a->kl);
		/* keys 0..n-1 were published in order: a snapshot of n
		 * keys has the first and the last of them */
		random_of(0, r);
		if (iw_keys_count(sn) > 0 && !iw_keys_find(sn, r, &s))
			a->misses++;
		random_of((int)iw_keys_count(sn) - 1, r);
		if (iw_keys_count(sn) > 0 && !iw_keys_find(sn, r, &s))
			a->misses++;
		iw_keys_release(sn);
		atomic_fetch_add(&a->lookups, 1);
	}
	iw_tls_secrets_wipe(&s);
	return NULL;
}

/* Until both readers have looked up once more (at most ~2 s): the
 * publishes and the lookups really interleave, however loaded the
 * machine. */
static void
readers_step(struct reader_arg *a)
{
	long seen[2] = { atomic_load(&a[0].lookups),
	    atomic_load(&a[1].lookups) };
	int spins;

	for (spins = 0; spins < 20000; spins++) {
		if (atomic_load(&a[0].lookups) > seen[0] &&
		    atomic_load(&a[1].lookups) > seen[1])
			return;
		usleep(100);
	}
}

static void
test_keylog_threads(const char *dir)
{
	char path[256], err[256];
	struct iw_keylog *kl = iw_keylog_new(1000);
	struct reader_arg a[2];
	pthread_t th[2];
	atomic_int stop;
	FILE *fp;
	int i, rc = 0, nnotes = 0;

	snprintf(path, sizeof(path), "%s/threads.keylog", dir);
	fp = fopen(path, "w");
	fclose(fp);
	chmod(path, 0600);
	iw_keylog_add_file(kl, path, err, sizeof(err));
	atomic_init(&stop, 0);
	for (i = 0; i < 2; i++) {
		a[i].kl = kl;
		a[i].stop = &stop;
		atomic_init(&a[i].lookups, 0);
		a[i].misses = 0;
		pthread_create(&th[i], NULL, reader, &a[i]);
	}
	for (i = 0; i < 300; i++) {
		fp = fopen(path, "a");
		line(fp, "CLIENT_RANDOM", i, 0x5a, 48);
		fclose(fp);
		rc += iw_keylog_poll(kl, note_cb, &nnotes);
		if (i % 10 == 0)
			readers_step(a);
	}
	atomic_store(&stop, 1);
	for (i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	CHECK(rc == 300 && iw_keylog_generation(kl) == 300 &&
	    a[0].misses == 0 && a[1].misses == 0 &&
	    atomic_load(&a[0].lookups) >= 30 &&
	    atomic_load(&a[1].lookups) >= 30,
	    "two reader threads through 300 publishes: every snapshot "
	    "whole (%ld + %ld lookups)", atomic_load(&a[0].lookups),
	    atomic_load(&a[1].lookups));
	iw_keylog_free(kl);
	unlink(path);
}

static void
test_protect(void)
{
	char err[256];
	struct rlimit rl;
	int status = -1;
	pid_t pid = fork();

	if (pid == 0) {
		if (iw_keys_protect_process(err, sizeof(err)) != 0 ||
		    prctl(PR_GET_DUMPABLE) != 0 ||
		    getrlimit(RLIMIT_CORE, &rl) != 0 || rl.rlim_cur != 0 ||
		    rl.rlim_max != 0)
			_exit(1);
		_exit(0);
	}
	waitpid(pid, &status, 0);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "protect: not dumpable, core size limit 0");
}

int
main(void)
{
	char dir[] = "/tmp/iw-keylog-XXXXXX";

	th_init();
	if (mkdtemp(dir) == NULL)
		return 2;
	test_rfc8448_schedule();
	test_rfc8448_records();
	test_rfc8448_session();
	test_prf();
	test_suites();
	test_keylog_lines(dir);
	test_keylog_growth(dir);
	test_keylog_cap(dir);
	test_keylog_threads(dir);
	test_protect();
	rmdir(dir);
	return th_done();
}
