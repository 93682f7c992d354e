# tunnel2 entry on Bun. Build: docker build -t tunnel2 .  Run: docker run -p 8080:8080 -e TUNNEL_DOMAIN=... tunnel2
FROM oven/bun:1.4.5-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# Only the runtime dependencies (hono; uplot for the dashboard; ioredis, loaded only with REDIS_URL). The `bun` npm
# package (a dependency for the npm-installed tunnel2 command) is not needed here: --omit=optional leaves out its
# 100 MB platform binary, and --ignore-scripts its install step; the image's own Bun runs the entry.
RUN bun install --production --ignore-scripts --omit=optional

FROM oven/bun:1.4.5-slim
WORKDIR /app
# MIMALLOC_PURGE_DELAY=-1: Bun's allocator keeps freed pages instead of returning them at once
# (about 10 % of the entry's CPU per request otherwise; bench/RESULTS.md "CPU per request").
ENV NODE_ENV=production PORT=8080 HOSTNAME=0.0.0.0 MIMALLOC_PURGE_DELAY=-1
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY src ./src
EXPOSE 8080
USER bun
HEALTHCHECK --interval=10s --timeout=3s CMD bun -e "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# Bun forwards SIGTERM to the entry, which stops and exits.
CMD ["bun", "run", "src/server.ts"]
