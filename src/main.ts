// Entry point: read the configuration, start the server, stop gracefully on SIGTERM/SIGINT.
import { ConfigError, loadConfig } from './config.ts';
import { createLogger, logProcessWarnings } from './log.ts';
import { startServer } from './server.ts';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      // No LOG_LEVEL to go by yet: the default logger still writes the one JSON line.
      createLogger('info').fatal({ problem: error.message }, `configuration error: ${error.message}`);
      process.exit(2);
    }
    throw error;
  }
  const log = createLogger(config.logLevel);
  logProcessWarnings(log);
  let running: Awaited<ReturnType<typeof startServer>>;
  try {
    running = await startServer(config, { log });
  } catch (err) {
    log.fatal({ err }, `tessera failed to start: ${(err as Error).message}`);
    process.exit(1);
  }
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal, grace_ms: config.shutdownGraceMs }, 'shutting down');
    // The grace is for requests; the workers, the webhook dispatcher and the database get 10 s more.
    const force = setTimeout(() => {
      log.error('shutdown did not finish in time: exiting');
      process.exit(1);
    }, config.shutdownGraceMs + 10_000);
    force.unref();
    // Exit by letting the event loop drain: process.exit() while isolated-vm is still tearing its
    // isolates down can crash the process at the last moment.
    running.close().then(
      () => {
        log.info({ signal }, 'shut down gracefully');
        process.exitCode = 0;
      },
      (err) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((error) => {
  process.stderr.write(`tessera failed to start: ${(error as Error).stack ?? error}\n`);
  process.exit(1);
});
