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
