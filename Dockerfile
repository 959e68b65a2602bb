# relayfn: a static fnctl binary on a distroless, non-root base.
#
#   docker build -t relayfn .
#   docker run -p 8080:8080 -v relayfn-data:/data relayfn --config /data/relay.yaml
#
# The working folder is /data: the store (relayfn.db) and the encryption key
# (relayfn.key) are made there unless relay.yaml says otherwise. Mount a
# volume on it to keep them across containers.

FROM golang:1.26.8-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# The Go toolchain reads the commit from .git for `fnctl version`; without
# .git in the context the binary says (devel).
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/fnctl ./cmd/fnctl

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/fnctl /usr/local/bin/fnctl
WORKDIR /data
USER nonroot:nonroot
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/fnctl", "serve"]
