/** When no line of the input is an entry, the human report says what ctscope reads instead. */
import { describe, expect, it } from "vitest";
import { malformedHint } from "../src/report/human.js";
import { analyzeText } from "./helpers/analyze-text.js";
import { BACKENDS } from "./helpers/backends.js";

const PRETTY_XML = `<?xml version="1.0" encoding="utf-8"?>
<conntrack>
<flow type="new">
    <meta direction="original">
        <layer3 protonum="2" protoname="ipv4">
            <src>192.168.16.40</src>
            <dst>192.168.16.255</dst>
        </layer3>
    </meta>
</flow>
</conntrack>
`;

const ONE_LINE_FLOW =
  '<flow><meta direction="original"><layer3 protonum="2" protoname="ipv4"><src>10.0.0.1</src><dst>10.0.0.2</dst></layer3><layer4 protonum="6" protoname="tcp"><sport>1</sport></layer4></meta></flow>';

describe.each(BACKENDS)("malformed-input hints (%s backend)", (backend) => {
  it("pretty-printed XML: one <flow> per line is what ctscope reads", async () => {
    const s = await analyzeText(PRETTY_XML, backend);
    expect(s).toMatchObject({ entries: 0, malformed: 8, ignored: 3 });
    expect(malformedHint(s)).toMatch(/^these are pieces of XML flows split over several lines; .*one <flow> per line/);
  });

  it("text that is no conntrack format: the formats ctscope reads", async () => {
    const s = await analyzeText("hello world\nGET / HTTP/1.1\n", backend);
    expect(s).toMatchObject({ entries: 0, malformed: 2 });
    expect(malformedHint(s)).toMatch(/^no line was a conntrack entry; ctscope reads \/proc\/net\/nf_conntrack/);
  });

  it("a whole but broken XML flow on one line is not taken for pretty-printing", async () => {
    const s = await analyzeText(`${ONE_LINE_FLOW}\n`, backend);
    expect(s).toMatchObject({ entries: 0, malformed: 1 });
    expect(malformedHint(s)).toMatch(/^no line was a conntrack entry/);
  });
});

describe("malformedHint", () => {
  it("says nothing when some lines were entries, or none was malformed", () => {
    const sample = [{ source: "f", line: 1, text: "<meta>" }];
    expect(malformedHint({ entries: 1, malformed: 1, malformed_samples: sample })).toBeNull();
    expect(malformedHint({ entries: 0, malformed: 0, malformed_samples: [] })).toBeNull();
  });
});
