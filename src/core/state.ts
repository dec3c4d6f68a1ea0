// A small persisted key-value space per driver. The store implements it; drivers use it to keep
// what they must find again after a restart (PIDs and ports, the live slot) without knowing SQLite.

export interface DriverState {
  get<T>(key: string): T | undefined;
  set(key: string, value: unknown): void;
  delete(key: string): void;
}

/** In-memory DriverState, for tests and for drivers that need no persistence. */
export class MemoryDriverState implements DriverState {
  private readonly values = new Map<string, string>();
  get<T>(key: string): T | undefined {
    const raw = this.values.get(key);
    return raw === undefined ? undefined : (JSON.parse(raw) as T);
  }
  set(key: string, value: unknown): void {
    this.values.set(key, JSON.stringify(value));
  }
  delete(key: string): void {
    this.values.delete(key);
  }
}
