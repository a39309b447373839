import type { Clock } from '../../../util/clock.js';
import { base62 } from '../random.js';
import { goTime, VaultHttpError } from '../wire.js';

/**
 * Response wrapping, as OpenBao does it: an answer asked for with `X-Vault-Wrap-TTL` is kept
 * behind a single-use wrapping token that lives the TTL asked for, and the caller gets only
 * `wrap_info`. `sys/wrapping/unwrap` gives the answer back once; `lookup` tells where it came
 * from without using it up; `rewrap` moves it behind a new token; `wrap` wraps data of the
 * caller's own. A wrapping token is no token of the token store: it opens nothing else.
 */
interface Wrapped {
  token: string;
  accessor: string;
  ttl: number;
  createdMs: number;
  creationPath: string;
  wrappedAccessor: string;
  /** The answer as it would have been sent. */
  response: Record<string, unknown>;
}

/** The longest TTL a wrapping token may have: OpenBao's default max lease TTL, 768h. */
const MAX_WRAP_TTL = 768 * 3600;

export class WrappingStore {
  private readonly wrapped = new Map<string, Wrapped>();

  constructor(private readonly clock: Clock) {}

  /** Wraps an answer; returns the body the caller gets instead. */
  wrap(response: Record<string, unknown>, ttl: number, creationPath: string): Record<string, unknown> {
    const now = this.clock.now();
    this.sweep(now);
    // The accessor of what was issued, so an orchestrator can revoke it without unwrapping.
    const auth = response.auth as { accessor?: string } | null | undefined;
    const data = response.data as { secret_id_accessor?: string } | null | undefined;
    const wrappedAccessor = auth?.accessor ?? data?.secret_id_accessor ?? '';
    const entry: Wrapped = {
      // OpenBao's wrapping tokens are of the older `s.` form.
      token: `s.${base62(24)}`,
      accessor: base62(24),
      ttl: Math.min(ttl, MAX_WRAP_TTL),
      createdMs: now,
      creationPath,
      wrappedAccessor,
      response,
    };
    this.wrapped.set(entry.token, entry);
    return {
      request_id: '',
      lease_id: '',
      renewable: false,
      lease_duration: 0,
      data: null,
      wrap_info: {
        token: entry.token,
        accessor: entry.accessor,
        ttl: entry.ttl,
        creation_time: goTime(entry.createdMs),
        creation_path: entry.creationPath,
        ...(wrappedAccessor ? { wrapped_accessor: wrappedAccessor } : {}),
      },
      warnings: null,
      auth: null,
    };
  }

  /** The wrapped answer, once; the token is gone after. */
  unwrap(token: string | undefined): Record<string, unknown> {
    const entry = this.valid(token);
    this.wrapped.delete(entry.token);
    return entry.response;
  }

  /** Where a wrapping token came from, without using it. */
  lookup(token: string | undefined): Record<string, unknown> {
    const entry = this.valid(token);
    return { creation_path: entry.creationPath, creation_time: goTime(entry.createdMs), creation_ttl: entry.ttl };
  }

  /** The same answer behind a new token with the same TTL; the old one is gone. */
  rewrap(token: string | undefined): Record<string, unknown> {
    const entry = this.valid(token);
    this.wrapped.delete(entry.token);
    return this.wrap(entry.response, entry.ttl, entry.creationPath);
  }

  /**
   * A wrapping token used anywhere but sys/wrapping: refused by the ACL (its only policy allows
   * the wrapping endpoints), and used up by the try, as its one use is spent.
   */
  spendIfWrapping(token: string | undefined): boolean {
    if (token === undefined || !this.wrapped.has(token)) return false;
    this.wrapped.delete(token);
    return true;
  }

  private valid(token: string | undefined): Wrapped {
    // No token at all is OpenBao's 403, an unknown one its 400.
    if (!token) throw new VaultHttpError(403, ['error validating wrapping token: token is empty']);
    const now = this.clock.now();
    this.sweep(now);
    const entry = this.wrapped.get(token);
    if (!entry) throw new VaultHttpError(400, ['wrapping token is not valid or does not exist']);
    return entry;
  }

  private sweep(now: number): void {
    for (const [token, entry] of this.wrapped) if (now >= entry.createdMs + entry.ttl * 1000) this.wrapped.delete(token);
  }
}
