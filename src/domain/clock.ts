/** The source of "now" for everything that dates a row or picks a billing period; tests pass a fixed one. */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = Object.freeze({ now: () => new Date() });

/** A clock that stays where it is put: `set` and `advance` move it. */
export class ManualClock implements Clock {
  private ms: number;
  constructor(start: Date | string | number) {
    this.ms = new Date(start).getTime();
  }
  now(): Date {
    return new Date(this.ms);
  }
  set(when: Date | string | number): void {
    this.ms = new Date(when).getTime();
  }
  advance(ms: number): void {
    this.ms += ms;
  }
}
