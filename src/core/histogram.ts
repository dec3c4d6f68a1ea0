// Latency histograms with fixed log-spaced buckets: cheap to record on the proxy's hot path,
// cheap to subtract (window = now - then), good enough for p50/p90/p99 within ~10%.

const MIN_MS = 0.05;
const GROWTH = 1.1;
/** Upper bounds of the buckets in ms; the last bucket is open-ended. */
export const BUCKET_BOUNDS_MS: readonly number[] = (() => {
  const bounds: number[] = [];
  for (let bound = MIN_MS; bound < 120_000; bound *= GROWTH) bounds.push(bound);
  return bounds;
})();
const LOG_GROWTH = Math.log(GROWTH);

export function bucketIndex(ms: number): number {
  if (ms <= MIN_MS) return 0;
  const index = Math.ceil(Math.log(ms / MIN_MS) / LOG_GROWTH - 1e-9);
  return Math.min(index, BUCKET_BOUNDS_MS.length);
}

export class LatencyHistogram {
  /** counts[i] = observations in bucket i; the last slot counts everything above the last bound. */
  readonly counts = new Float64Array(BUCKET_BOUNDS_MS.length + 1);
  total = 0;

  record(ms: number): void {
    this.recordBucket(bucketIndex(ms));
  }

  /** For a caller that already knows the bucket (the proxy computes it once per request). */
  recordBucket(index: number): void {
    this.counts[index]! += 1;
    this.total += 1;
  }

  snapshot(): number[] {
    return Array.from(this.counts);
  }
}

/** Observations recorded between two snapshots of the same histogram. */
export function subtractCounts(later: readonly number[], earlier: readonly number[]): number[] {
  return later.map((count, i) => count - (earlier[i] ?? 0));
}

/** The q-quantile (0..1) in ms, interpolated inside its bucket; undefined for an empty window. */
export function quantileMs(counts: readonly number[], q: number): number | undefined {
  const total = counts.reduce((sum, c) => sum + c, 0);
  if (total <= 0) return undefined;
  const rank = q * total;
  let seen = 0;
  for (let i = 0; i < counts.length; i++) {
    const count = counts[i] ?? 0;
    if (count <= 0) continue;
    if (seen + count >= rank) {
      const lower = i === 0 ? 0 : (BUCKET_BOUNDS_MS[i - 1] as number);
      const upper = BUCKET_BOUNDS_MS[i] ?? lower * GROWTH;
      return lower + ((rank - seen) / count) * (upper - lower);
    }
    seen += count;
  }
  return BUCKET_BOUNDS_MS[BUCKET_BOUNDS_MS.length - 1];
}
