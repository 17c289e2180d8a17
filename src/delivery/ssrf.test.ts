import { describe, expect, it } from 'vitest';
import { urlProblem } from './ssrf';

const prod = { allowLoopback: false };
const local = { allowLoopback: true };

describe('SSRF guard', () => {
  it('accepts public http(s) endpoints', () => {
    for (const u of [
      'https://api.mixpanel.com/import',
      'http://hooks.example.com:8080/x',
      'https://8.8.8.8/',
      'https://[2606:4700::1111]/',
    ]) {
      expect(urlProblem(u, prod), u).toBeUndefined();
    }
  });

  it('refuses private, link-local, metadata, shared and reserved addresses', () => {
    const refused = [
      'http://10.0.0.5/',
      'http://172.16.3.4/',
      'http://192.168.1.1/',
      'http://169.254.169.254/latest/meta-data/',
      'http://100.64.0.1/',
      'http://0.0.0.0/',
      'http://[fd00:ec2::254]/',
      'http://[fe80::1]/',
      'http://[::ffff:10.0.0.1]/',
      'http://[::ffff:169.254.169.254]/',
      'http://metadata.google.internal/',
      'http://printer.local/',
      'http://intranet/',
      'http://224.0.0.1/',
    ];
    for (const u of refused) expect(urlProblem(u, prod), u).toBeDefined();
  });

  it('refuses loopback in production, however it is written, and allows it locally', () => {
    const loopback = [
      'http://127.0.0.1:9000/',
      'http://localhost/',
      'http://api.localhost/',
      'http://[::1]/',
      'http://2130706433/',
      'http://0x7f.1/',
      'http://[::ffff:127.0.0.1]/',
    ];
    for (const u of loopback) {
      expect(urlProblem(u, prod), u).toBeDefined();
      expect(urlProblem(u, local), u).toBeUndefined();
    }
    expect(urlProblem('http://10.0.0.1/', local)).toBeDefined();
  });

  it('refuses other schemes and garbage', () => {
    expect(urlProblem('file:///etc/passwd', prod)).toMatch(/http/);
    expect(urlProblem('gopher://x.example/', prod)).toMatch(/http/);
    expect(urlProblem('not a url', prod)).toMatch(/valid URL/);
  });
});
