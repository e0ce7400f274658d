// Locks the vault after a period without user activity.
export class IdleTimer {
  private last: number;
  constructor(
    readonly timeoutMs: number,
    private readonly onIdle: () => void,
    private readonly now: () => number = () => Date.now(),
  ) {
    this.last = now();
  }
  /** User activity: a key press, a click, a wheel or touch event. */
  bump(): void {
    this.last = this.now();
  }
  /** Calls onIdle (once) when the timeout has passed since the last activity; true if it did. */
  check(): boolean {
    if (this.now() - this.last <= this.timeoutMs) return false;
    this.last = Number.POSITIVE_INFINITY;
    this.onIdle();
    return true;
  }
}
