// Makes sure the binaries the test suite runs for real are on the PATH:
// `prometheus` and `promtool` (Debian package `prometheus`) for the alert-rule
// unit tests and the end-to-end test of the dashboards. On a Debian machine
// where we are root, a missing package is installed; elsewhere we say what to do.
import { spawnSync } from "node:child_process"

const has = (bin) => spawnSync("sh", ["-c", `command -v ${bin}`], { stdio: "ignore" }).status === 0
const bins = [process.env.PROMETHEUS_BIN ?? "prometheus", process.env.PROMTOOL_BIN ?? "promtool"]
const missing = bins.filter((bin) => !has(bin))
if (missing.length === 0) process.exit(0)

const run = (cmd) => spawnSync("sh", ["-c", cmd], { stdio: "inherit" }).status === 0
if (process.getuid?.() === 0 && has("apt-get")) {
  console.error(`test setup: ${missing.join(", ")} missing; installing the Debian package prometheus`)
  const ok = run("DEBIAN_FRONTEND=noninteractive apt-get update -qq") &&
    run("DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null")
  // The package may start a server on :9090; the tests start their own.
  run("pkill -x prometheus || true")
  if (ok && bins.every(has)) process.exit(0)
}
console.error(
  `test setup: ${missing.join(", ")} not found. The alert-rule and dashboard tests run a real Prometheus: ` +
    "install the Debian package `prometheus` (or set PROMETHEUS_BIN / PROMTOOL_BIN)."
)
process.exit(1)
