// Makes sure the binaries the test suite runs for real are on the PATH:
// `prometheus` and `promtool` (Debian package `prometheus`) for the alert-rule
// unit tests and the end-to-end test of the dashboards, `chromium` for the
// status page's browser test. Missing packages are installed only when asked
// (`--install`, or RESILIENCE_INSTALL_TOOLS=1, which .ci/run sets) on a Debian
// machine where we are root; otherwise we say what to install and stop.
import { spawnSync } from "node:child_process"
import { existsSync, rmSync, writeFileSync } from "node:fs"

const has = (bin) => spawnSync("sh", ["-c", `command -v "${bin}"`], { stdio: "ignore" }).status === 0
const tools = [
  { bin: process.env.PROMETHEUS_BIN ?? "prometheus", pkg: "prometheus" },
  { bin: process.env.PROMTOOL_BIN ?? "promtool", pkg: "prometheus" },
  { bin: process.env.CHROMIUM_BIN ?? "chromium", pkg: "chromium" }
]
const missing = tools.filter((tool) => !has(tool.bin))
if (missing.length === 0) process.exit(0)
const packages = [...new Set(missing.map((tool) => tool.pkg))]

const run = (cmd) => spawnSync("sh", ["-c", cmd], { stdio: "inherit" }).status === 0
const asked = process.argv.includes("--install") || process.env.RESILIENCE_INSTALL_TOOLS === "1"
if (asked && process.getuid?.() === 0 && has("apt-get")) {
  console.error(`test setup: ${missing.map((t) => t.bin).join(", ")} missing; installing ${packages.join(", ")}`)
  // Packages such as prometheus start a server on install; policy-rc.d forbids
  // that, so nothing needs stopping afterwards (we never end a process we did not start).
  const policy = "/usr/sbin/policy-rc.d"
  const ownPolicy = !existsSync(policy)
  if (ownPolicy) writeFileSync(policy, "#!/bin/sh\nexit 101\n", { mode: 0o755 })
  let ok
  try {
    ok = run("DEBIAN_FRONTEND=noninteractive apt-get update -qq") &&
      run(
        `DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ${packages.join(" ")} >/dev/null`
      )
  } finally {
    if (ownPolicy) rmSync(policy, { force: true })
  }
  if (ok && tools.every((tool) => has(tool.bin))) process.exit(0)
}
console.error(
  `test setup: ${missing.map((t) => t.bin).join(", ")} not found. The alert-rule and dashboard tests run a real ` +
    "Prometheus and the status page test a real Chromium: install the Debian packages " +
    `${packages.join(", ")} (apt-get install ${packages.join(" ")}; as root on Debian, RESILIENCE_INSTALL_TOOLS=1 ` +
    "makes the test command do it), or set PROMETHEUS_BIN / PROMTOOL_BIN / CHROMIUM_BIN."
)
process.exit(1)
