/* SPDX-License-Identifier: ISC */
/*
 * keys.h - fixed keys for gen_capture's synthetic certificate chain.
 *
 * Throwaway RSA-2048 keys made for the benchmark only (openssl genpkey);
 * they protect nothing.  Fixed so that the generated captures are the same
 * bytes on every run: the certificates are built from them at start with
 * the OpenSSL API and signed with RSA PKCS#1 v1.5, which is deterministic.
 * Only the CA's private key is needed (it signs the leaf); the leaf needs
 * only its public key.
 */
#ifndef BENCH_KEYS_H
#define BENCH_KEYS_H

static const char bench_ca_key_pem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQCiZXEMtn3ljRzy\n"
    "LT0YflmnEucKA/qdVX1NWOYo7fFaS6prwe//y7T8pUSDaZx1ciNW9hGC0RSSejCa\n"
    "b+1FusNIFwGrofqJSGNm5nRyBbQsEoHQOXnicrlFFy3JmK3i6iwFhtbuTdVu/0hq\n"
    "UKPSI/8oedtH7yw194mLMEmv4TvBiQQ5BdhxYHCJ72Y7df26sHylWzlIE4EGTDzf\n"
    "XGgVOE+Bx55A7HpLUOTTnzsRZ1hp0p3piDklNnSk0eBdB70qv5AgryeoosEJw4I+\n"
    "BJ4Ek0atuHrQqZXF0a0BHvW2AJcAiMPUOttt5oDOMhv3oM1ib5jmzdRomI/iE8i8\n"
    "PuUM/Yi/AgMBAAECggEAF4ROJzOkLqJNP0rKzqm5bObhW0NxPuh64UEO731plpRf\n"
    "hQRML4Q93NpH/inElQNm17iBl6qUapPURwEPYKonjmB6hvLJd6jqcCPOWBa4XSt+\n"
    "7frsyhyn9LfjEw8Pm00i+9fndxIBZvYD9BVia9N3p1JiLVwW0Gfc3LGs8hHRV/i2\n"
    "2lsW8EfqEWDeeYn3AGcLWCpZYy7xNQANd5ppdDIaNNlnE+BYZbbdK6HWqCibW3Dv\n"
    "R0VCfg36Wwvm+tMTVcEUuHdDxJ2pNeSLpFJOBMaWE0BKxd0adox8zRE8UqkNK+wh\n"
    "V+JuQfQhlmlDO0/CFv+TS9YJr5gfSZbj1RqtWvrUrQKBgQDaFevRQAPetZWwXMfd\n"
    "UI/rcVwdjbH49bCPMkPItnVCAW2HSEM/perZfRz9TyrEYIlzNBjfY0//AhsKFaFw\n"
    "nj9eac6610xBkhFHz2StPK1mftU1tNvYul0Usb6aZt5HLqCEfTKGH1DcYFXWNz6f\n"
    "qToqwhLWu9/TEsMw0OJZMgwSGwKBgQC+oQT67EjGSWTQeBJIAMOiSSOhUU6ZNWhY\n"
    "3VfSZxhxUjyAN7qpHi7Dc49UWY46q0JE2tV36ACWKn7/2o5//lWyYXZ6HopVdB19\n"
    "pG0xUJZtQ2s4UY2qY0x5hHKKVAUQCjHMniEoxoP1ol664rVpHTK5kO3SzxQhOsab\n"
    "uRFNbrCuLQKBgA/+J4ryzNXaLx39z9JVBBjZ+U1ZhMGjEs2NfBcN+k9a13NiQzw5\n"
    "qJ1GZYfV9GbuRWYjXeeT2tvyhZUZvPsLP85mp/hfrYHpekbv2IwztOudRXlox+5+\n"
    "zDCmUDn2bTp/GtpcbAYV6dIfZmwNJRSETnWwQb1pjaJm79V2nAK6ftQdAoGBAJvR\n"
    "QCHee4nguhAQ5ViHj2GaiQ42SJnA5v8kRcHM1VTjlGJ1qxTLgAvw7GpVHYXlMLDZ\n"
    "cv2k3L3iFJcLzcjfWqsJMW+WgRpiZCyr9zkFF0BOiFiriLGKoxr84ScikFTREG2h\n"
    "n5cV1Q014FrALuqxnCHETjEvZNPYmDj3aCYz4SUtAoGBALGpwsTxRlKfueBPFymS\n"
    "2jl8o0kqm4RhBxa9rPZw8KMWdCXql8bOG7jC89b0E4vfaGRttmNYsker8Zu4m7Fj\n"
    "3pL8Gc+LReXJ0FHKlepKcUjWoO+X8KZT+BKfyECW1NSU6maVs2OP3AUCn9Po8Sbj\n"
    "OEAuhlBGyZHpxTt+Vg+uk9bv\n"
    "-----END PRIVATE KEY-----\n";

static const char bench_leaf_pub_pem[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA4CVlKtqUDI6Lke9f9+4s\n"
    "ePuMjEGHIVpXhCJOEdpa/0aWReZKXFRlUJiiNT64FjZYVJZmzS46wGbcLFAZHaM5\n"
    "0ZzpHBdcqbrhxUo0M38rq3aq/eQNLF1N7pAoDEgCE2LsX+QErE07wFRT6QGFHxP0\n"
    "diY2MjWu61yq+Rzqspw0185PVu3y/S4Hxp0TrDG+lKbMFW6Rv+atl1fHa6KBpW3h\n"
    "/bomLu1Yya9uC206eLbZQNgG1+6SdzKnt7OdHEdHA7K8u+TTdPhnUsM4EdOZRpp6\n"
    "MGHewa8LdXtO+QRPhS1Uey+0FLDzkg/VYRtrt2WX2yED9Ac2HW8buf5hRXrRLcW8\n"
    "qQIDAQAB\n"
    "-----END PUBLIC KEY-----\n";

#endif /* BENCH_KEYS_H */
