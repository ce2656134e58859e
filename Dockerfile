# syntax=docker/dockerfile:1
# Builds the shims from source and packs them as npm tarballs, then installs them in a slim Node
# image (target `shims`), or exports the tarballs alone (target `packages`).

ARG NODE_VERSION=20
FROM node:${NODE_VERSION}-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends clang lld wasi-libc libclang-rt-14-dev-wasm32 wabt protobuf-compiler \
 && rm -rf /var/lib/apt/lists/*
# Rust for the napi-rs addon.
RUN curl -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal
ENV PATH=/root/.cargo/bin:$PATH
RUN npm install -g pnpm@10.34.8
WORKDIR /src
COPY . .
RUN pnpm install --frozen-lockfile \
 && NX_DAEMON=false pnpm nx run-many -t build \
 && mkdir /packages \
 && for p in containerd-shim-wasm containerd-shim-v8; do (cd packages/$p && pnpm pack --pack-destination /packages); done

FROM scratch AS packages
COPY --from=build /packages /

FROM node:${NODE_VERSION}-bookworm-slim AS shims
COPY --from=build /packages /tmp/packages
RUN npm install -g /tmp/packages/*.tgz && rm -rf /tmp/packages
# containerd finds containerd-shim-<engine>-v1 on its PATH; copy these bins onto the node.
CMD ["sh", "-c", "ls -l $(npm prefix -g)/bin"]
