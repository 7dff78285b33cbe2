# syntax=docker/dockerfile:1
#
# The dialer daemon image. Build:   docker build -t dialer .
# Run (Postgres elsewhere):         docker run -e DATABASE_URL=postgres://... \
#                                     -e DIALER_ACCESS_KEYS=id:secret -p 8080:8080 dialer
# (the image's config holds the well-known local key, which the daemon refuses on the CMD's
# 0.0.0.0 unless DIALER_ALLOW_EXAMPLE_KEY=1; docker-compose.yml sets that by default.)
# The image's default config is config/dialer.compose.toml; mount your own over
# /etc/dialer/dialer.toml. Secrets come from the environment (DATABASE_URL, DIALER_ACCESS_KEYS).

FROM rust:1-bookworm AS builder
WORKDIR /src
# sqlx never reaches for a database at build time (checked queries would use .sqlx/).
ENV SQLX_OFFLINE=true CARGO_TERM_COLOR=never

# Dependencies first, against placeholder sources, so that editing the project's code reuses
# this layer instead of recompiling every crate.
COPY Cargo.toml Cargo.lock ./
RUN mkdir src \
    && echo 'fn main() {}' > src/main.rs \
    && touch src/lib.rs \
    && cargo build --release --locked \
    && rm -rf src

COPY . .
# COPY keeps the context's modification times, which can be older than the placeholders';
# touching the crate roots makes cargo rebuild the crate itself for certain.
RUN touch src/main.rs src/lib.rs \
    && cargo build --release --locked --bin dialer \
    && install -D -m 0755 target/release/dialer /out/dialer

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 dialer \
    && useradd --system --uid 10001 --gid dialer --home-dir /var/lib/dialer --create-home \
        --shell /usr/sbin/nologin dialer
COPY --from=builder /out/dialer /usr/local/bin/dialer
COPY config/dialer.compose.toml /etc/dialer/dialer.toml
WORKDIR /var/lib/dialer
# Numeric, so that runtimes enforcing "run as non-root" can verify it without /etc/passwd.
USER 10001:10001
EXPOSE 8080
# bash's /dev/tcp needs nothing beyond the base image. The port matches the CMD's --listen;
# change both together.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/8080 && printf 'GET /healthz HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' >&3 && head -n 1 <&3 | grep -q ' 200 '"]
ENTRYPOINT ["dialer"]
CMD ["serve", "--config", "/etc/dialer/dialer.toml", "--listen", "0.0.0.0:8080"]
