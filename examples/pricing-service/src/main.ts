/**
 * The pricing service: `npx -y pnpm@10 start` from the repository root.
 * With no backend variables it runs on embedded defaults (SQLite, an
 * in-process cache, a folder as object store, a rule-based pricing model).
 */
import { Faults } from "@effect-resilience/core"
import { Prometheus } from "@effect-resilience/otel"
import { AdminRoutes } from "@effect-resilience/platform"
import { NodeRuntime } from "@effect/platform-node"
import * as HttpServer from "@effect/platform/HttpServer"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as fs from "node:fs"
import * as AppConfig from "./Config.js"
import * as Http from "./Http.js"
import * as Layers from "./Layers.js"
import * as Server from "./Server.js"

const ServerLive = Layer.unwrapEffect(Effect.gen(function*() {
  const config = yield* AppConfig.load
  // Checked once up front (each wrapped dependency reads it too): a refused RESILIENCE_FAULTS fails the start with one message.
  yield* Faults.config
  // The embedded database, object folder and upload queue live here.
  yield* Effect.sync(() => fs.mkdirSync(config.dataDir, { recursive: true }))
  const backends = AppConfig.describeBackends(config)
  yield* Effect.log("pricing-service backends").pipe(Effect.annotateLogs(backends))
  return HttpServer.serve(Http.app, Http.middleware).pipe(
    HttpServer.withLogAddress,
    Layer.provide(AdminRoutes.layerConfig),
    Layer.provide(Prometheus.layerHttpApp({ resource: { serviceName: "pricing-service" } })),
    Layer.provide(Layers.make(config)),
    Layer.provide(Server.layer(config))
  )
}))

NodeRuntime.runMain(Layer.launch(ServerLive))
