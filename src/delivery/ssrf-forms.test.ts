import { describe, expect, it } from 'vitest';
import { urlProblem } from './ssrf';

const refused = (url: string) => urlProblem(url, { allowLoopback: false });

/** Spellings of blocked addresses an attacker may try; the URL parser or the guard must catch each. */
describe('SSRF guard: numeric, hex and IPv4-mapped spellings', () => {
  it.each([
    'http://127.1/',
    'http://0/',
    'http://0x7f.0x0.0x0.0x1/',
    'http://0X7F000001/',
    'http://017700000001/',
    'http://2852039166/', // 169.254.169.254 in decimal
    'http://0xa9fea9fe/',
    'http://0xa9.254.0251.0xfe/', // mixed hex, decimal and octal parts
    'http://169.254.43518/', // the last two parts as one 16-bit number
    'http://%31%32%37.0.0.1/', // percent-encoded digits
    'http://127.0.0.1./',
    'http://[::ffff:127.0.0.1]/',
    'http://[::ffff:a9fe:a9fe]/',
    'http://[0:0:0:0:0:ffff:10.0.0.1]/',
    'http://[::ffff:0:a9fe:a9fe]/', // IPv4-translated
    'http://[64:ff9b::a9fe:a9fe]/', // NAT64 of the metadata address
    'http://[::127.0.0.1]/', // IPv4-compatible
    'http://[2002:a9fe:a9fe::]/', // 6to4
    'http://[::]/',
    'http://[fd00::1]/',
    'http://[fe80::1%25eth0]/',
    'http://10.0.0.1.nip.io/',
    'http://7f000001.example.com/',
  ])('refuses %s', (url) => {
    expect(refused(url)).toBeTruthy();
  });

  it.each(['https://api.amplitude.com/2/httpapi', 'https://93.184.216.34/', 'https://[2606:4700::1111]/'])(
    'allows the public %s',
    (url) => {
      expect(refused(url)).toBeUndefined();
    },
  );
});
