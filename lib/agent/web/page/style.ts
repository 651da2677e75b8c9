/**
 * The web page's style sheet, as text (served inline).
 *
 * @module
 */

/** The page's CSS. */
export const PAGE_STYLE = `
:root { color-scheme: light dark; --bg: #f7f7f5; --panel: #ecebe6; --fg: #1d1d1b; --dim: #6a6a66;
  --accent: #2f6fdf; --good: #1f8a4c; --warn: #b7791f; --bad: #c0392b; --line: #d6d5cf; }
@media (prefers-color-scheme: dark) {
  :root { --bg: #1b1c1e; --panel: #242528; --fg: #e8e6e1; --dim: #9a9893; --accent: #7aa7ff;
    --good: #4cc38a; --warn: #e0a84f; --bad: #ff7a6b; --line: #37383c; }
}
* { box-sizing: border-box; }
html, body { height: 100%; margin: 0; }
body { font: 15px/1.4 system-ui, sans-serif; background: var(--bg); color: var(--fg);
  display: grid; grid-template-rows: auto 1fr; }
header { display: flex; gap: 1em; align-items: center; padding: .5em 1em;
  border-bottom: 1px solid var(--line); background: var(--panel); }
header h1 { font-size: 1.1em; margin: 0; }
#me { color: var(--dim); }
.status { margin-left: auto; font-size: .9em; }
.status.on { color: var(--good); } .status.off { color: var(--bad); }
.app { display: grid; grid-template-columns: 18em 1fr; min-height: 0; }
nav { background: var(--panel); border-right: 1px solid var(--line); padding: .5em; overflow: auto; }
nav h2 { font-size: .8em; text-transform: uppercase; letter-spacing: .05em; color: var(--dim);
  margin: 1em .3em .3em; }
ul, ol { list-style: none; margin: 0; padding: 0; }
button { font: inherit; color: inherit; background: none; border: 1px solid transparent;
  border-radius: 6px; cursor: pointer; }
button:focus-visible, input:focus-visible { outline: 2px solid var(--accent); outline-offset: 1px; }
#everything { width: 100%; text-align: left; padding: .35em .5em; color: var(--dim); }
#everything[aria-pressed="true"] { background: var(--bg); border-color: var(--line); color: var(--fg); }
.target { display: flex; }
.target .pick { flex: 1; display: flex; gap: .4em; align-items: center; text-align: left;
  padding: .35em .5em; min-width: 0; }
.target .pick[aria-current="true"] { background: var(--bg); border-color: var(--line); font-weight: 600; }
.target .where { color: var(--dim); overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.target .close { color: var(--dim); padding: 0 .5em; }
.badge { margin-left: auto; background: var(--accent); color: #fff; border-radius: 1em;
  padding: 0 .5em; font-size: .8em; font-weight: 600; }
.prot { display: inline-grid; place-items: center; width: 1.4em; height: 1.4em; flex: none;
  border-radius: 4px; font-size: .8em; font-weight: 700; border: 1px solid var(--line); }
.prot.verified, .prot.encrypted { color: var(--good); border-color: var(--good); }
.prot.clear { color: var(--warn); border-color: var(--warn); }
.empty { color: var(--dim); padding: .3em .5em; font-size: .9em; }
.buddy .call { width: 100%; display: flex; gap: .5em; align-items: center; padding: .3em .5em; text-align: left; }
.buddy .state { margin-left: auto; color: var(--dim); font-size: .85em; }
.dot { width: .7em; height: .7em; border-radius: 50%; background: var(--dim); flex: none; }
.buddy.online .dot { background: var(--good); } .buddy.busy .dot { background: var(--warn); }
.invitation { border: 1px solid var(--accent); border-radius: 6px; padding: .5em; margin: .3em 0; }
.invitation p { margin: 0 0 .4em; }
.invitation button { border-color: var(--line); padding: .2em .8em; margin-right: .4em; }
.invitation .accept { background: var(--accent); color: #fff; }
form.row { display: flex; gap: .4em; margin: .3em; }
form.row input { flex: 1; min-width: 0; }
input { font: inherit; color: inherit; background: var(--bg); border: 1px solid var(--line);
  border-radius: 6px; padding: .4em .6em; }
form.row button { border-color: var(--line); padding: .3em .8em; background: var(--bg); }
.visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); }
main { display: grid; grid-template-rows: auto 1fr auto auto; min-height: 0; }
.heading { padding: .5em 1em; border-bottom: 1px solid var(--line); }
.heading { position: relative; }
.heading h2 { margin: 0; font-size: 1.05em; }
#history { position: absolute; right: 1em; top: .6em; border-color: var(--line); padding: .2em .7em;
  font-size: .85em; }
.protection { margin: 0; font-size: .85em; color: var(--dim); }
.protection.verified, .protection.encrypted { color: var(--good); } .protection.clear { color: var(--warn); }
#lines { overflow: auto; padding: .5em 1em; margin: 0; }
.line { padding: .1em 0; white-space: pre-wrap; overflow-wrap: anywhere; }
.line time { color: var(--dim); font-variant-numeric: tabular-nums; font-size: .85em; }
.line.info, .line.warn { color: var(--dim); font-size: .92em; }
.line.warn { color: var(--bad); }
.line .nick { font-weight: 600; }
.line.own .nick { color: var(--accent); }
.mark { color: var(--dim); margin-left: .4em; font-size: .85em; }
.mark.ok { color: var(--good); }
#activity { margin: 0; padding: 0 1em; min-height: 1.4em; color: var(--dim); font-size: .9em; }
#send { margin: .5em 1em 1em; }
`;
