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
  const none = { l3: 0, plain: 0, xml: 0 };
  it("says nothing when some lines were entries, or none was malformed", () => {
    const sample = [{ source: "f", line: 1, text: "<meta>" }];
    expect(malformedHint({ forms: { ...none, plain: 1 }, malformed: 1, malformed_samples: sample })).toBeNull();
    expect(malformedHint({ forms: none, malformed: 0, malformed_samples: [] })).toBeNull();
  });

  it("an HTML page is not taken for conntrack XML", () => {
    const samples = ["<!DOCTYPE html>", "<html>", "<body>", "<p>502 Bad Gateway</p>"].map((text, i) => ({
      source: "f",
      line: i + 1,
      text,
    }));
    expect(malformedHint({ forms: none, malformed: 4, malformed_samples: samples })).toMatch(/^no line was a conntrack entry/);
  });
});

describe.each(BACKENDS)("no hint when entries were read but not kept (%s backend)", (backend) => {
  const ENTRY =
    "ipv4     2 tcp      6 300 ESTABLISHED src=10.0.0.1 dst=10.0.0.2 sport=40000 dport=22 src=10.0.0.2 dst=10.0.0.1 sport=22 dport=40000 [ASSURED] mark=0 use=1";
  it("all entries filtered out", async () => {
    const s = await analyzeText(`${ENTRY}\nnot an entry\n`, backend, { proto: ["udp"] });
    expect(s).toMatchObject({ entries: 0, filtered: 1, malformed: 1 });
    expect(malformedHint(s)).toBeNull();
  });

  it("only DESTROY events", async () => {
    const s = await analyzeText(
      `[DESTROY] tcp      6 src=10.0.0.1 dst=10.0.0.2 sport=1 dport=2 src=10.0.0.2 dst=10.0.0.1 sport=2 dport=1\nnot an entry\n`,
      backend,
    );
    expect(s).toMatchObject({ entries: 0, destroyed: 1, malformed: 1 });
    expect(malformedHint(s)).toBeNull();
  });
});
