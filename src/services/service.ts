/** A service a job starts before it runs and stops after it, also when it fails. */
export interface Service {
  /** Acquires what the service needs (streams, connections). */
  start(): Promise<void>;
  /** Releases it; never throws. */
  stop(): Promise<void>;
}
