# shellcheck shell=bash
# PKI for the local control plane, generated with openssl. Sourced by up.sh.
# All leaf certs are signed by one CA ($PKI/ca.crt); front-proxy has its own CA.
PKI_LAYOUT=2

_key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; chmod 600 "$1"; }

_ca() { # _ca NAME CN
  _key "$PKI/$1.key"
  openssl req -x509 -new -key "$PKI/$1.key" -subj "/CN=$2" -days 3650 -sha256 \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" \
    -out "$PKI/$1.crt" 2>/dev/null
}

# _leaf NAME CA SUBJECT EKU [SAN]
_leaf() {
  local name="$1" ca="$2" subj="$3" eku="$4" san="${5:-}" ext
  _key "$PKI/$name.key"
  ext="basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=$eku"
  [[ -n "$san" ]] && ext+=$'\n'"subjectAltName=$san"
  openssl req -new -key "$PKI/$name.key" -subj "$subj" -out "$PKI/$name.csr" 2>/dev/null
  openssl x509 -req -in "$PKI/$name.csr" -CA "$PKI/$ca.crt" -CAkey "$PKI/$ca.key" \
    -set_serial "0x$(openssl rand -hex 16)" -days 825 -sha256 \
    -extfile <(printf '%s\n' "$ext") -out "$PKI/$name.crt" 2>/dev/null
  rm -f "$PKI/$name.csr"
}

pki_ok() {
  [[ "$(cat "$PKI/.layout" 2>/dev/null)" == "$PKI_LAYOUT" ]] || return 1
  local c
  for c in ca apiserver etcd-server apiserver-etcd-client admin kube-controller-manager \
    kube-scheduler kwok agent-sandbox-controller webhook front-proxy-client; do
    # valid for at least 7 more days
    openssl x509 -checkend 604800 -noout -in "$PKI/$c.crt" >/dev/null 2>&1 || return 1
  done
  [[ -f "$PKI/sa.key" && -f "$PKI/sa.pub" ]]
}

ensure_pki() {
  if pki_ok; then return 0; fi
  log "generating PKI in $PKI"
  rm -rf "$PKI"
  mkdir -p "$PKI" "$PKI/webhook"
  chmod 700 "$PKI"
  _ca ca openshell-local-ca
  _ca front-proxy-ca openshell-local-front-proxy-ca
  local svc_ip="${SERVICE_CIDR_FIRST_IP:-10.96.0.1}"
  _leaf apiserver ca "/CN=kube-apiserver" serverAuth \
    "DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,IP:127.0.0.1,IP:$svc_ip"
  _leaf etcd-server ca "/CN=etcd" serverAuth,clientAuth "DNS:localhost,IP:127.0.0.1"
  _leaf apiserver-etcd-client ca "/CN=kube-apiserver-etcd-client" clientAuth
  _leaf admin ca "/O=system:masters/CN=kubernetes-admin" clientAuth
  # Every control-plane component authenticates as system:masters, which kube-apiserver authorizes
  # before RBAC. A restarted kube-apiserver serves before its RBAC cache is filled and answers 403
  # to everyone else meanwhile (kubernetes/kubernetes#121635): the scheduler's and KCM's informers
  # were refused after every restart, and each refusal doubles a list/watch loop's backoff as an
  # outage does. kwok plays every kubelet and the agent-sandbox controller is cluster-admin here anyway.
  _leaf kube-controller-manager ca "/O=system:masters/CN=system:kube-controller-manager" clientAuth
  _leaf kube-scheduler ca "/O=system:masters/CN=system:kube-scheduler" clientAuth
  _leaf kwok ca "/O=system:masters/CN=kwok-controller" clientAuth
  _leaf agent-sandbox-controller ca "/O=system:masters/CN=agent-sandbox-controller" clientAuth
  _leaf webhook ca "/CN=agent-sandbox-webhook" serverAuth "DNS:localhost,IP:127.0.0.1"
  cp "$PKI/webhook.crt" "$PKI/webhook/tls.crt"
  cp "$PKI/webhook.key" "$PKI/webhook/tls.key"
  _leaf front-proxy-client front-proxy-ca "/CN=front-proxy-client" clientAuth
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$PKI/sa.key" 2>/dev/null
  chmod 600 "$PKI/sa.key"
  openssl pkey -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null
  echo "$PKI_LAYOUT" > "$PKI/.layout"
}

# write_kubeconfig FILE USER CERT KEY : client-cert kubeconfig with embedded data
write_kubeconfig() {
  write_kubeconfig_for "$1" "$2" "" \
    "client-certificate-data: $(base64 -w0 < "$3")" "client-key-data: $(base64 -w0 < "$4")"
}

# write_kubeconfig_for FILE USER NAMESPACE CREDENTIAL_LINE... : kubeconfig for the local cluster
# whose user entry holds the given credential lines (a token, or a client certificate and key).
write_kubeconfig_for() {
  local file="$1" user="$2" namespace="$3" tmp line
  shift 3
  tmp="$(mktemp "$file.XXXX")"
  {
    printf 'apiVersion: v1\nkind: Config\nclusters:\n- name: openshell-local\n  cluster:\n'
    printf '    server: https://127.0.0.1:%s\n' "$APISERVER_PORT"
    printf '    certificate-authority-data: %s\n' "$(base64 -w0 < "$PKI/ca.crt")"
    printf 'users:\n- name: %s\n  user:\n' "$user"
    for line in "$@"; do printf '    %s\n' "$line"; done
    printf 'contexts:\n- name: %s@openshell-local\n  context:\n    cluster: openshell-local\n    user: %s\n' "$user" "$user"
    if [[ -n "$namespace" ]]; then printf '    namespace: %s\n' "$namespace"; fi
    printf 'current-context: %s@openshell-local\n' "$user"
  } > "$tmp"
  chmod 600 "$tmp"
  mv -f "$tmp" "$file"
}
