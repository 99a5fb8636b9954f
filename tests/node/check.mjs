// The client tests' harness: check(name, fn) prints "ok - name" or
// "not ok - name" with the error's first lines (counted by tests/run);
// assert(cond, msg) throws msg; done() exits 1 when a check failed.
let failed = 0;

export async function check(name, fn) {
  try {
    await fn();
    console.log("ok - " + name);
  } catch (e) {
    failed++;
    console.log("not ok - " + name);
    console.log("#   " + String(e && e.stack || e).split("\n").slice(0, 6).join("\n#   "));
  }
}

export function assert(cond, msg) {
  if (!cond) throw new Error(msg);
}

export function done() {
  process.exit(failed ? 1 : 0);
}
