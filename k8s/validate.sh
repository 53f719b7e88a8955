#!/usr/bin/env bash
# Renders every overlay as an operator would and validates each object against the
# Kubernetes OpenAPI schemas, offline and strictly (unknown fields are errors), with PyPI's
# kubernetes-validate. The operators' custom resources have no schema there and are listed
# as skipped, by kind, with the reason; any other object without a schema fails.
#   k8s/validate.sh            (needs kubectl and kubernetes-validate; .ci/run installs the latter)
set -euo pipefail
cd "$(dirname "$0")"

# The Kubernetes release the manifests are checked against: the oldest a province is
# expected to run (native gRPC probes are GA since 1.27, unhealthyPodEvictionPolicy 1.31).
KUBERNETES_VERSION="${KUBERNETES_VERSION:-1.32.0}"

# Custom resources: kubernetes-validate knows only the built-in kinds. Their fields are
# checked by tests/k8s.rs (instances, backups, the app secret's wiring) and, for good, by
# the operators' admission webhooks when applied.
skipped_because() {
  case "$1" in
    postgresql.cnpg.io/v1/Cluster | postgresql.cnpg.io/v1/ScheduledBackup) echo "CloudNativePG CRD: no schema offline" ;;
    barmancloud.cnpg.io/v1/ObjectStore) echo "Barman Cloud plugin CRD: no schema offline" ;;
  esac
}

command -v kubectl >/dev/null || { echo "kubectl is needed to render k8s/"; exit 1; }
command -v kubernetes-validate >/dev/null || { echo "pip install kubernetes-validate"; exit 1; }

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
status=0
for overlay in overlays/*/; do
  name=$(basename "$overlay")
  kubectl kustomize "$overlay" > "$out/$name.yaml"
  echo "k8s/overlays/$name: $(grep -c '^kind:' "$out/$name.yaml") objects rendered"
  # One result line per object; --strict makes unknown fields errors.
  kubernetes-validate --strict -k "$KUBERNETES_VERSION" "$out/$name.yaml" > "$out/$name.log" 2>&1 || status=1
  grep -E '^(ERROR|CRITICAL)' "$out/$name.log" && status=1
  passed=$(grep -c '^INFO .* passed for resource' "$out/$name.log" || true)
  echo "  $passed validated against Kubernetes $KUBERNETES_VERSION"
  while read -r kind api; do
    key="$api/$kind"
    reason=$(skipped_because "$key")
    if [ -n "$reason" ]; then
      echo "  skipped $key: $reason"
    else
      echo "  NO SCHEMA for $key: neither validated nor listed as skipped"; status=1
    fi
  done < <(sed -nE "s/^WARN .*Couldn't find schema for kind ([A-Za-z]+) with api version ([^ ]+) .*/\1 \2/p" "$out/$name.log")
done

# The check itself: a rendering with one misspelt field must fail it.
kubectl kustomize overlays/dev | awk '!done && sub(/revisionHistoryLimit:/, "revisionHistoryLimt:") { done = 1 } 1' > "$out/misspelt.yaml"
if kubernetes-validate --strict -k "$KUBERNETES_VERSION" --quiet "$out/misspelt.yaml" > "$out/misspelt.log" 2>&1; then
  echo "a misspelt field passed validation: the check checks nothing"; status=1
else
  echo "a misspelt field fails validation, as it must: $(grep -m1 -o "'revisionHistoryLimt' was unexpected" "$out/misspelt.log")"
fi
exit $status
