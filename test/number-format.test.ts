/** Integers with thousands separators, as the en-US locale writes them, without loading ICU data. */
import { describe, expect, it } from "vitest";
import { fmtCount, fmtInt } from "../src/report/text-table.js";

describe("fmtInt", () => {
  it("groups digits by three with commas, rounding first", () => {
    expect(fmtInt(0)).toBe("0");
    expect(fmtInt(999)).toBe("999");
    expect(fmtInt(1000)).toBe("1,000");
    expect(fmtInt(262144)).toBe("262,144");
    expect(fmtInt(1234567.5)).toBe("1,234,568");
    expect(fmtInt(-1234)).toBe("-1,234");
    expect(fmtInt(-0.2)).toBe("0");
    expect(fmtInt(Number.NaN)).toBe("NaN");
  });

  it("equals toLocaleString('en-US') on integers of every length", () => {
    let x = 7;
    for (let digits = 1; digits <= 16; digits++) {
      for (let k = 0; k < 50; k++) {
        x = (x * 1103515245 + 12345) % 2147483648;
        const m = Math.floor((x / 2147483648) * 10 ** digits);
        const n = k % 2 && m !== 0 ? -m : m;
        expect(fmtInt(n), String(n)).toBe(Math.round(n).toLocaleString("en-US"));
      }
    }
  });
});

describe("fmtCount", () => {
  it("says one entry, and otherwise entries, with separators", () => {
    expect(fmtCount(1, "entry", "entries")).toBe("1 entry");
    expect(fmtCount(0, "entry", "entries")).toBe("0 entries");
    expect(fmtCount(1234, "line")).toBe("1,234 lines");
    expect(fmtCount(1, "DESTROY event")).toBe("1 DESTROY event");
  });
});
