import { describe, expect, it } from 'vitest';
import { parseListen, requestPath, rotationReason } from '../../src/telemetry/metrics.js';

describe('metrics labels and --metrics-listen', () => {
  it('turns every reason the keeper gives into one of a few labels', () => {
    expect(rotationReason('max_ttl reached')).toBe('max_ttl');
    expect(rotationReason('lease not renewable')).toBe('max_ttl');
    expect(rotationReason('renewal refused')).toBe('revoked');
    expect(rotationReason('credentials refused by PostgreSQL')).toBe('revoked');
    expect(rotationReason('recovering after expiry')).toBe('expired');
    expect(rotationReason('token replaced')).toBe('token');
    expect(rotationReason('test')).toBe('manual');
    expect(rotationReason(undefined)).toBe('other');
  });

  it('reads a bare port as loopback, and host:port as given', () => {
    expect(parseListen('9464')).toEqual({ host: '127.0.0.1', port: 9464 });
    expect(parseListen('0.0.0.0:9464')).toEqual({ host: '0.0.0.0', port: 9464 });
    expect(parseListen('[::1]:9464')).toEqual({ host: '::1', port: 9464 });
    expect(() => parseListen('99999')).toThrow(/is not a port or host:port/);
  });

  it('reads only origin-form request targets on the metrics port', () => {
    expect(requestPath('/metrics')).toBe('/metrics');
    expect(requestPath('/healthz?verbose=1')).toBe('/healthz');
    expect(requestPath('/a/../healthz')).toBe('/healthz');
    for (const bad of [undefined, '', '*', 'http://[', 'http://metrics/healthz', '//evil/x', '?x']) expect(requestPath(bad), String(bad)).toBeUndefined();
  });
});
