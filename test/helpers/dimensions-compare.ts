/** Two Dimensions held equal field by field, with the field named when they differ. */
import { expect } from "vitest";
import type { Dimensions } from "../../src/engine/dimensions.js";

export function expectSameDimensions(a: Dimensions, b: Dimensions, where: string): void {
  expect(Object.keys(a).sort(), where).toEqual(Object.keys(b).sort());
  for (const f of Object.keys(b) as Array<keyof Dimensions>) {
    if (f === "sums") continue;
    expect([f, Array.from(a[f] as ArrayLike<number>)], where).toEqual([f, Array.from(b[f] as ArrayLike<number>)]);
    expect([f, (a[f] as object).constructor.name], where).toEqual([f, (b[f] as object).constructor.name]);
  }
  expect(Object.keys(a.sums).sort(), where).toEqual(Object.keys(b.sums).sort());
  for (const dim of Object.keys(b.sums) as Array<keyof Dimensions["sums"]>) {
    for (const f of ["count", "packets", "bytes", "unreplied"] as const) {
      expect([dim, f, Array.from(a.sums[dim][f])], where).toEqual([dim, f, Array.from(b.sums[dim][f])]);
    }
  }
}
