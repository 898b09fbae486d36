import { MessageChannel } from "node:worker_threads";

/**
 * The buffer a typed array owns whole, or null. Only such buffers go in a transfer list: a slice of
 * a larger buffer would move its neighbours too, and Node's Buffer pool (the memory of small
 * Buffers) is not transferable at all (newer Node versions throw).
 */
export function ownedBuffer(a: ArrayBufferView): ArrayBuffer | null {
  const b = a.buffer;
  if (a.byteLength === 0 || a.byteOffset !== 0 || b.byteLength !== a.byteLength || !(b instanceof ArrayBuffer)) return null;
  return b;
}

/**
 * Frees the buffers the arrays own whole now, instead of at V8's next garbage collection, which a
 * main thread that allocates little may not run for seconds: they are transferred into a message
 * to a closed port and dropped with it. The arrays are empty (detached) afterwards. For chunk
 * tables already summed into the merge: hundreds of MB on a big dump.
 */
export function releaseBuffers(arrays: ArrayBufferView[]): void {
  const buffers = [...new Set(arrays.map(ownedBuffer).filter((b) => b !== null))];
  if (buffers.length === 0) return;
  // Posted on a closed port, the message is serialised and dropped at once: the memory goes now,
  // not on a later turn of the event loop (which a synchronous caller may not give).
  const { port1 } = new MessageChannel();
  port1.close();
  try {
    port1.postMessage(null, buffers);
  } catch {
    // A buffer that cannot be transferred (newer Node versions throw): left to the collector.
  }
}
