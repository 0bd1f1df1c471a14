/** A rejection as an Error (a non-Error reason becomes one with its text). */
export function asError(reason: unknown): Error {
  return reason instanceof Error ? reason : new Error(String(reason));
}

/**
 * Every item once settled, in order: its value, or its rejection as an Error. What
 * `Promise.allSettled` gives, without an outcome object per item or a second pass to unwrap them
 * (this runs for every list of vendor answers).
 */
export function settleAll<T>(items: ReadonlyArray<T | PromiseLike<T>>): Promise<Array<T | Error>> {
  return new Promise((resolve, reject) => {
    const out = new Array<T | Error>(items.length);
    let left = items.length;
    if (left === 0) return resolve(out);
    const put = (i: number, value: T | Error) => {
      out[i] = value;
      if (--left === 0) resolve(out);
    };
    for (let i = 0; i < items.length; i++) {
      Promise.resolve(items[i]).then(
        (value) => put(i, value as T),
        (reason: unknown) => {
          // A reason that cannot even be made text fails the whole list, as unwrapping allSettled's would.
          let error: Error;
          try {
            error = asError(reason);
          } catch (thrown) {
            return reject(thrown as Error);
          }
          put(i, error);
        },
      );
    }
  });
}
