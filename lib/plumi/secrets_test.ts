import { strictEqual } from "#assert";
import { REDACTED, redactSecrets } from "./secrets.ts";
import { formatLogLine } from "../packet_log.ts";

const R = REDACTED;
const TOKEN = "q3Jx-9ZkVb0nS1eYtW2aUg";
const PROOF = "kF0d3mPZ6bq1Yw8v2xT4rN5sL7uC9aE0hJ3gK6iM1oQ";
const NONCE = "Nz4wXb2cV6aZ8sD1fG3hJ5";

Deno.test("tokens, proofs, nonces and stored keys are hidden; everything else is kept", () => {
  const cases: Array<[string, string]> = [
    [`PRlaura@bb.com;v=2;n=${NONCE};p=${PROOF}`, `PRlaura@bb.com;v=2;n=${R};p=${R}`],
    [`RR1;v=2;e=auth;n=${NONCE};s=c2FsdA;i=600000`, `RR1;v=2;e=auth;n=${R};s=c2FsdA;i=600000`],
    [`RR0;v=2;t=${TOKEN};hb=30;su=0;ol=1`, `RR0;v=2;t=${R};hb=30;su=0;ol=1`],
    [`PKlaura@bb.com;t=${TOKEN};st=busy`, `PKlaura@bb.com;t=${R};st=busy`],
    [
      `PBlaura@bb.com;t=${TOKEN};op=add;b=joan@cc.com`,
      `PBlaura@bb.com;t=${R};op=add;b=joan@cc.com`,
    ],
    [`PSlaura@bb.com;t=${TOKEN};p=2`, `PSlaura@bb.com;t=${R};p=2`],
    [`POlaura@bb.com;t=${TOKEN};p=1`, `POlaura@bb.com;t=${R};p=1`],
    ["RO0;p=1/3;u=joan;u=pere", "RO0;p=1/3;u=joan;u=pere"],
    [`PDlaura@bb.com;v=2;t=${TOKEN}`, `PDlaura@bb.com;v=2;t=${R}`],
    ["PUnuria@bb.com;s=c2FsdA;i=600000;k=a2V5", `PUnuria@bb.com;s=c2FsdA;i=600000;k=${R}`],
    ["PPjoan@cc.com;w=laura@bb.com;x=---", "PPjoan@cc.com;w=laura@bb.com;x=---"],
    // Original datagrams have no parameters: untouched.
    ["PRlaura@bb.com", "PRlaura@bb.com"],
    ["RL0laura@bb.com:joan@bb.com:10.0.0.7:4000", "RL0laura@bb.com:joan@bb.com:10.0.0.7:4000"],
    // Malformed ones are hidden all the same: the log shows what arrived, never a secret.
    [`XX;t=${TOKEN}\\x00;p=`, `XX;t=${R};p=${R}`],
  ];
  for (const [text, shown] of cases) strictEqual(redactSecrets(text), shown, text);
});

Deno.test("a log line shows a heartbeat without its token, with the datagram's true length", () => {
  const packet = new TextEncoder().encode(`PKlaura@bb.com;t=${TOKEN}`);
  strictEqual(
    formatLogLine("R", { ip: "10.0.0.7", port: 4000 }, packet),
    `R: 10.0.0.7:UDP:4000, PKlaura@bb.com;t=${R}, ${packet.length}`,
  );
});
