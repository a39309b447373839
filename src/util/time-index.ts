/**
 * Items kept in order of a time, for the ones within a window: the audit pairs thousands of
 * database roles with thousands of leases by time, and comparing each with each grew as the
 * square (5 000 of each took 5.6 s).
 */
export class TimeIndex<T> {
  private readonly entries: { at: number; item: T }[] = [];

  constructor(items: Iterable<T>, timeOf: (item: T) => number | null) {
    for (const item of items) {
      const at = timeOf(item);
      if (at !== null && Number.isFinite(at)) this.entries.push({ at, item });
    }
    this.entries.sort((a, b) => a.at - b.at);
  }

  /** Every item whose time is within [from, to], earliest first. */
  *within(from: number, to: number): Generator<T> {
    let lo = 0;
    let hi = this.entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.entries[mid] as { at: number }).at < from) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo; i < this.entries.length && (this.entries[i] as { at: number }).at <= to; i++) yield (this.entries[i] as { item: T }).item;
  }
}
