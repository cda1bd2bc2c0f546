# condeco-sync as a container: a static binary (no cgo), FROM scratch, run
# as a user that is not root. The CA roots and the time zone database are
# compiled into the binary (cmd/condeco-sync/embedded.go), since scratch
# has neither. Mount the data folder at /data and the export folder at
# /inbox; the config names them (inbox: /inbox, data: /data/condeco-sync).
#
#   docker build --build-arg VERSION=v0.2.0 -t condeco-sync:v0.2.0 .
#   docker run -d -v condeco-data:/data -v /srv/condeco/exports:/inbox:ro \
#     -v /etc/condeco-sync:/etc/condeco-sync:ro -e CONDECO_SYNC_SCIM_TOKEN condeco-sync:v0.2.0
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -buildvcs=false \
      -ldflags "-s -w -X github.com/condeco-sync/condeco-sync/pipeline.Version=${VERSION}" \
      -o /out/condeco-sync ./cmd/condeco-sync \
 && mkdir -p /out/data /out/inbox

FROM scratch
COPY --from=build /out/condeco-sync /condeco-sync
# The data folder belongs to the user the program runs as; it makes its own
# folder inside (0700), whatever the volume's mode.
COPY --from=build --chown=65532:65532 /out/data /data
COPY --from=build /out/inbox /inbox
USER 65532:65532
VOLUME ["/data", "/inbox"]
ENV CONDECO_SYNC_CONFIG=/etc/condeco-sync/condeco-sync.yaml
ENTRYPOINT ["/condeco-sync"]
CMD ["schedule", "--listen", "0.0.0.0:9464"]
