import assert from "#assert";
import {
  dataFolder,
  flagValue,
  logFileIn,
  parseProfile,
  profileArgs,
  profileText,
} from "./profile.ts";

Deno.test("the data folder: --data, else XDG_DATA_HOME/lumi, else ~/.local/share/lumi", () => {
  const env = (vars: Record<string, string>) => (name: string) => vars[name];
  assert.equal(dataFolder("/d", env({ HOME: "/h" })), "/d");
  assert.equal(dataFolder(undefined, env({ XDG_DATA_HOME: "/x", HOME: "/h" })), "/x/lumi");
  assert.equal(dataFolder(undefined, env({ HOME: "/h" }), "linux"), "/h/.local/share/lumi");
  assert.equal(dataFolder(undefined, env({ APPDATA: "C:\\A" }), "windows"), "C:\\A\\lumi");
  assert.equal(dataFolder(undefined, env({})), undefined);
  assert.equal(logFileIn("/d", "a/b@bb.test"), "/d/logs/a_b@bb.test.log");
});

Deno.test("a profile round-trips through its text, with the other settings commented out", () => {
  const settings = { address: "laura@bb.test", nick: "Laura", node: "127.0.0.1:3344" };
  const text = profileText(settings);
  assert.match(text, /^; port = 0$/m);
  assert.deepEqual(parseProfile(text), settings);
  assert.deepEqual(parseProfile("no-log = true\nmax-chats = 3\n"), {
    "no-log": true,
    "max-chats": "3",
  });
});

Deno.test("a profile refuses a setting it does not know, naming it", () => {
  assert.throws(() => parseProfile("adress = laura@bb.test\n"), /unknown setting "adress"/);
});

Deno.test("flags given on the command line win over the profile; log and no-log are one setting", () => {
  const settings = {
    address: "laura@bb.test",
    nick: "Laura",
    "no-log": true,
    "max-chats": "3",
  };
  assert.deepEqual(profileArgs(settings, ["--nick", "Lau", "--log=x.log"]), [
    "--address",
    "laura@bb.test",
    "--max-chats",
    "3",
  ]);
  assert.deepEqual(profileArgs(settings, []), [
    "--address",
    "laura@bb.test",
    "--nick",
    "Laura",
    "--no-log",
    "--max-chats",
    "3",
  ]);
  assert.equal(flagValue(["--data", "/d"], "data"), "/d");
  assert.equal(flagValue(["--data=/e"], "data"), "/e");
  assert.equal(flagValue(["--nick", "x"], "data"), undefined);
});
