/* SPDX-License-Identifier: ISC */
/*
 * findings.c - the findings catalogue of DESIGN.md.  Ids and signature
 * numbers are stable: SIEM rules key on them.  IMAP findings are numbered
 * from 1, TLS findings from 101.
 */
#include <string.h>

#include "findings.h"

static const struct iw_finding_info catalogue[IW_F_COUNT] = {
	[IW_F_CLEARTEXT_LOGIN] = { "cleartext_login", 1, 1, "credentials",
	    IW_LAYER_IMAP,
	    "LOGIN sent before TLS: the password crossed the network in clear" },
	[IW_F_CLEARTEXT_AUTH] = { "cleartext_auth", 2, 1, "credentials",
	    IW_LAYER_IMAP,
	    "AUTHENTICATE sent before TLS: the SASL exchange crossed the "
	    "network in clear" },
	[IW_F_LOGIN_DESPITE_LOGINDISABLED] = { "login_despite_logindisabled",
	    3, 1, "credentials", IW_LAYER_IMAP,
	    "The client sent LOGIN although the server advertised "
	    "LOGINDISABLED" },
	[IW_F_LOGINDISABLED_MISSING] = { "logindisabled_missing", 4, 2,
	    "server-posture", IW_LAYER_IMAP,
	    "The server offers STARTTLS but does not advertise LOGINDISABLED "
	    "on the unencrypted connection" },
	[IW_F_STARTTLS_NOT_OFFERED] = { "starttls_not_offered", 5, 2,
	    "server-posture", IW_LAYER_IMAP,
	    "The server's capabilities on a cleartext connection lack "
	    "STARTTLS" },
	[IW_F_STARTTLS_NOT_USED] = { "starttls_not_used", 6, 2, "starttls",
	    IW_LAYER_IMAP,
	    "STARTTLS was offered but the client authenticated or selected a "
	    "mailbox without it" },
	[IW_F_PREAUTH_ON_CLEARTEXT] = { "preauth_on_cleartext", 7, 1,
	    "starttls", IW_LAYER_IMAP,
	    "PREAUTH greeting on an unencrypted connection: the session was "
	    "authenticated before STARTTLS could be used" },
	[IW_F_STARTTLS_REFUSED] = { "starttls_refused", 8, 2, "starttls",
	    IW_LAYER_IMAP, "The server answered NO or BAD to STARTTLS" },
	[IW_F_STARTTLS_FAILED] = { "starttls_failed", 9, 2, "starttls",
	    IW_LAYER_IMAP,
	    "The server accepted STARTTLS but no TLS handshake completed" },
	[IW_F_STARTTLS_COMMAND_INJECTION] = { "starttls_command_injection",
	    10, 1, "starttls", IW_LAYER_IMAP,
	    "Client bytes followed the STARTTLS command before the server's "
	    "response (command injection, CVE-2011-0411 class)" },
	[IW_F_STARTTLS_RESPONSE_INJECTION] = { "starttls_response_injection",
	    11, 1, "starttls", IW_LAYER_IMAP,
	    "The server's bytes after its OK to STARTTLS are not TLS "
	    "(response injection)" },
	[IW_F_PLAINTEXT_AFTER_STARTTLS] = { "plaintext_after_starttls", 12, 1,
	    "starttls", IW_LAYER_IMAP,
	    "After the OK to STARTTLS the client went on in cleartext" },
	[IW_F_STARTTLS_STRIPPING_SUSPECTED] = { "starttls_stripping_suspected",
	    13, 1, "starttls", IW_LAYER_IMAP,
	    "This server offered STARTTLS in an earlier session but not in "
	    "this one: STARTTLS may have been stripped" },
	[IW_F_CLEARTEXT_ON_IMAPS_PORT] = { "cleartext_on_imaps_port", 14, 2,
	    "server-posture", IW_LAYER_IMAP,
	    "Cleartext IMAP on an IMAPS port" },
	[IW_F_AUTH_BRUTEFORCE] = { "auth_bruteforce", 15, 2, "credentials",
	    IW_LAYER_IMAP,
	    "Many failed authentications from one client in a short window" },

	[IW_F_WEAK_CIPHER] = { "weak_cipher", 101, 1, "tls", IW_LAYER_TLS,
	    "The negotiated cipher suite is weak" },
	[IW_F_WEAK_CIPHER_OFFERED] = { "weak_cipher_offered", 102, 3, "tls",
	    IW_LAYER_TLS, "The client offered weak cipher suites" },
	[IW_F_OBSOLETE_TLS_VERSION] = { "obsolete_tls_version", 103, 2, "tls",
	    IW_LAYER_TLS, "The negotiated protocol version is obsolete" },
	[IW_F_NO_FORWARD_SECRECY] = { "no_forward_secrecy", 104, 3, "tls",
	    IW_LAYER_TLS,
	    "Static RSA key exchange: recorded traffic can be decrypted with "
	    "the server's key later" },
	[IW_F_TLS_HANDSHAKE_FAILED] = { "tls_handshake_failed", 105, 2, "tls",
	    IW_LAYER_TLS, "The TLS handshake did not complete" },
	[IW_F_CERT_NAME_MISMATCH] = { "cert_name_mismatch", 106, 1,
	    "certificate", IW_LAYER_TLS,
	    "The server certificate does not match the server name" },
	[IW_F_CERT_EXPIRED] = { "cert_expired", 107, 1, "certificate",
	    IW_LAYER_TLS, "The server certificate had expired" },
	[IW_F_CERT_NOT_YET_VALID] = { "cert_not_yet_valid", 108, 1,
	    "certificate", IW_LAYER_TLS,
	    "The server certificate was not yet valid" },
	[IW_F_CERT_SELF_SIGNED] = { "cert_self_signed", 109, 2, "certificate",
	    IW_LAYER_TLS, "The server certificate is self-signed" },
	[IW_F_CERT_UNTRUSTED] = { "cert_untrusted", 110, 2, "certificate",
	    IW_LAYER_TLS,
	    "The server certificate does not chain to the configured CA "
	    "bundle" },
	[IW_F_WEAK_KEY] = { "weak_key", 111, 2, "certificate", IW_LAYER_TLS,
	    "The server certificate's key is too short" },
	[IW_F_WEAK_SIGNATURE] = { "weak_signature", 112, 2, "certificate",
	    IW_LAYER_TLS,
	    "The server certificate is signed with MD5 or SHA-1" },
	[IW_F_CERT_CHANGED] = { "cert_changed", 113, 1, "certificate",
	    IW_LAYER_TLS,
	    "This server presented a different certificate key earlier in "
	    "this run: a man-in-the-middle sign" },
	[IW_F_NO_SNI] = { "no_sni", 114, 3, "tls", IW_LAYER_TLS,
	    "No server name was sent and none is configured for this server: "
	    "its identity could not be checked" },
};

const struct iw_finding_info *
iw_finding_info(enum iw_finding f)
{
	if ((int)f < 0 || f >= IW_F_COUNT)
		return NULL;
	return &catalogue[f];
}

int
iw_finding_by_id(const char *id)
{
	int i;

	for (i = 0; i < IW_F_COUNT; i++)
		if (strcmp(catalogue[i].id, id) == 0)
			return i;
	return -1;
}
