# spine-sandbox container image.
#
# Normal build (needs a registry for the two base images):
#     docker build -t spine-sandbox .                 # or: docker compose build
#
# The normal build compiles with the `dist` profile (Cargo.toml: whole-program optimisation).
#
# Build from a binary you already have, with no registry at all:
#     cargo build --profile dist --locked    # or --release, quicker to build
#     mkdir -p docker/prebuilt && cp target/dist/spine-sandbox docker/prebuilt/
#     docker build --build-arg PREBUILT=1 \
#         --build-arg BUILD_IMAGE=spine-sandbox-base:bookworm \
#         --build-arg BASE_IMAGE=spine-sandbox-base:bookworm -t spine-sandbox .
# Both images must be Debian bookworm (glibc 2.36, as the binary is glibc-linked);
# scripts/compose-smoke makes spine-sandbox-base:bookworm with debootstrap + docker import.
#
# Either way the runtime image is the same:
#     /app/spine-sandbox    the binary (also the HEALTHCHECK: no curl in the image)
#     /app/scenarios/       the repository's scenarios (compose mounts ./scenarios over it)
#     /app/certs/           generated PKI (compose mounts ./certs here)
#     /var/lib/spine-sandbox/  empty, the sandbox user's: where deploy/compose.yaml mounts each
#                           shard's state volume (--state-dir)
#     user sandbox, UID/GID 1000 (build args SANDBOX_UID/SANDBOX_GID)
#
# Why a build argument and not a separate target: the classic builder (Debian's
# docker.io 20.10, docker-compose 1.x) builds every stage before the one asked
# for, so a "prebuilt" stage would run in normal builds too and a "compile"
# stage in offline builds. One chain of stages works with both builders.

ARG BASE_IMAGE=debian:bookworm-slim
ARG BUILD_IMAGE=rust:1-bookworm

# ---------------------------------------------------------------------------
# The binary: compiled here, or taken from docker/prebuilt/ when PREBUILT=1.
FROM ${BUILD_IMAGE} AS build
ARG PREBUILT=0
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src/ src/
# The default scenario and its documents are built into the binary; Cargo.toml names the benches.
COPY scenarios/ scenarios/
COPY benches/ benches/
# docker/prebuilt/ always exists (it holds a README), so this works whether or
# not a binary was staged there, with the classic builder and with BuildKit.
COPY docker/prebuilt/ prebuilt/
RUN set -eu; \
    if [ "$PREBUILT" = 1 ]; then \
        [ -f prebuilt/spine-sandbox ] || { \
            echo "PREBUILT=1: put the binary at docker/prebuilt/spine-sandbox first" >&2; exit 1; }; \
        install -m 0755 prebuilt/spine-sandbox /spine-sandbox; \
    else \
        cargo build --profile dist --locked --bin spine-sandbox; \
        install -m 0755 target/dist/spine-sandbox /spine-sandbox; \
    fi

# ---------------------------------------------------------------------------
# Runtime image.
FROM ${BASE_IMAGE} AS runtime
ARG SANDBOX_UID=1000
ARG SANDBOX_GID=1000
RUN groupadd --gid "${SANDBOX_GID}" sandbox \
 && useradd --uid "${SANDBOX_UID}" --gid "${SANDBOX_GID}" --no-create-home \
        --home-dir /app --shell /usr/sbin/nologin sandbox \
 && mkdir -p /app/certs /var/lib/spine-sandbox \
 && chown sandbox:sandbox /app/certs /var/lib/spine-sandbox
WORKDIR /app
ENV SANDBOX_HTTP_ADDR=0.0.0.0:8080 \
    SANDBOX_SSP_ADDR=0.0.0.0:8443 \
    SANDBOX_CERTS_DIR=/app/certs \
    SANDBOX_SCENARIO=scenarios/default.yaml
COPY scenarios/ /app/scenarios/
COPY --from=build /spine-sandbox /app/spine-sandbox
EXPOSE 8080 8443
USER sandbox
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=3 \
    CMD ["/app/spine-sandbox", "healthcheck", "--url", "http://127.0.0.1:8080/healthz"]
ENTRYPOINT ["/app/spine-sandbox"]
CMD ["serve"]
