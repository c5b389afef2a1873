#!/usr/bin/env bash
# Build govmomi's vCenter/ESX simulator (vcsim) from Debian 12's packaged
# govmomi 0.24.2 sources. Needs only Debian apt; no Go module proxy, no GitHub.
#
# vdvs's copy of /work/shared/tools/build-vcsim.sh, with two additions to main.go:
# - -tlscert/-tlskey, so the tests can serve a certificate of their own and keep TLS verification
#   on (Go's built-in test certificate has a 1024-bit key, which Debian's OpenSSL refuses);
# - -delay, -method-delay, -delay-jitter: the simulator's own DelayConfig (simulator/model.go),
#   which upstream's vcsim never exposed, so benches can run under a latency model
#   (bench/README.md, testkit/vsphere_sim.py LATENCY_MODEL);
# - -vsan-datastore NAME[,NAME]: those datastores report summary.type "vsan" (vcsim has no vSAN), so
#   storage policies (which vSphere applies on vSAN only) are tested on it (tests/vsphere/test_policies.py).
set -euo pipefail
OUT_DIR="${VCSIM_BUILD_DIR:-/tmp/vcsim-build}"
GOSRC=/usr/share/gocode/src/github.com/vmware/govmomi

export DEBIAN_FRONTEND=noninteractive
if ! command -v go >/dev/null || [ ! -d "$GOSRC/simulator" ]; then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends golang-go golang-github-vmware-govmomi-dev >/dev/null
fi

mkdir -p "$OUT_DIR/src/vcsim" "$OUT_DIR/overlay"
cat > "$OUT_DIR/src/vcsim/main.go" <<'EOF'
// Minimal vCenter/ESX simulator entry point built on the Debian-packaged
// govmomi "simulator" library (golang-github-vmware-govmomi-dev 0.24.2).
package main

import (
	"crypto/tls"
	"flag"
	"fmt"
	"log"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/simulator/esx"

	// optional endpoints (vAPI REST /rest, STS, lookup, PBM)
	_ "github.com/vmware/govmomi/lookup/simulator"
	_ "github.com/vmware/govmomi/pbm/simulator"
	_ "github.com/vmware/govmomi/sts/simulator"
	_ "github.com/vmware/govmomi/vapi/simulator"
)

func main() {
	listen := flag.String("l", "127.0.0.1:8989", "listen address")
	isESX := flag.Bool("esx", false, "simulate a standalone ESX host instead of vCenter")
	useTLS := flag.Bool("tls", true, "serve HTTPS (self-signed cert)")
	user := flag.String("username", "", "required username (default: any)")
	pass := flag.String("password", "", "required password (default: any)")
	dc := flag.Int("dc", -1, "datacenters (VPX only)")
	cluster := flag.Int("cluster", -1, "clusters per DC (VPX only)")
	host := flag.Int("host", -1, "hosts per cluster (VPX only)")
	sHost := flag.Int("standalone-host", -1, "standalone hosts (VPX only)")
	ds := flag.Int("ds", -1, "local datastores")
	vm := flag.Int("vm", -1, "VMs per resource pool")
	autostart := flag.Bool("autostart", true, "power on model-created VMs")
	trace := flag.Bool("trace", false, "trace SOAP to stderr")
	tlsCert := flag.String("tlscert", "", "PEM certificate to serve (default: Go's built-in test certificate)")
	tlsKey := flag.String("tlskey", "", "PEM private key of -tlscert")
	delay := flag.Int("delay", 0, "milliseconds added to every SOAP call (DelayConfig.Delay)")
	methodDelay := flag.String("method-delay", "", "Method:ms,... added to those methods' calls (DelayConfig.MethodDelay)")
	jitter := flag.Float64("delay-jitter", 0, "coefficient of variation of each delay (DelayConfig.DelayJitter)")
	vsan := flag.String("vsan-datastore", "", "datastores (comma-separated names) whose summary.type is vsan")
	flag.Parse()

	model := simulator.VPX()
	if *isESX {
		model = simulator.ESX()
		// 0.24.2's ESX template lists a datastore moref that is never created;
		// Datacenter.datastore would then fail with ManagedObjectNotFound.
		esx.Datacenter.Datastore = nil
	}
	set := func(dst *int, v int) {
		if v >= 0 {
			*dst = v
		}
	}
	if !*isESX {
		set(&model.Datacenter, *dc)
		set(&model.Cluster, *cluster)
		set(&model.ClusterHost, *host)
		set(&model.Host, *sHost)
	}
	set(&model.Datastore, *ds)
	set(&model.Machine, *vm)
	model.Autostart = *autostart
	if *delay < 0 || *jitter < 0 {
		log.Fatal("-delay and -delay-jitter must not be negative")
	}
	model.DelayConfig.Delay = *delay
	model.DelayConfig.DelayJitter = *jitter
	model.DelayConfig.MethodDelay = map[string]int{}
	for _, item := range strings.Split(*methodDelay, ",") {
		if item = strings.TrimSpace(item); item == "" {
			continue
		}
		name, value, found := strings.Cut(item, ":")
		ms, err := strconv.Atoi(strings.TrimSpace(value))
		if !found || strings.TrimSpace(name) == "" || err != nil || ms < 0 {
			log.Fatalf("-method-delay: %q is not Method:milliseconds", item)
		}
		model.DelayConfig.MethodDelay[strings.TrimSpace(name)] = ms
	}
	simulator.Trace = *trace
	model.ServiceContent.About.FullName += " (govmomi simulator)"

	if err := model.Create(); err != nil {
		log.Fatal(err)
	}
	for _, name := range strings.Split(*vsan, ",") {
		if name = strings.TrimSpace(name); name == "" {
			continue
		}
		found := false
		for _, entity := range simulator.Map.All("Datastore") {
			if ds, ok := entity.(*simulator.Datastore); ok && ds.Name == name {
				ds.Summary.Type = "vsan"
				found = true
			}
		}
		if !found {
			log.Fatalf("-vsan-datastore: no datastore %q", name)
		}
	}
	u := &url.URL{Host: *listen}
	if *user != "" {
		u.User = url.UserPassword(*user, *pass)
	}
	model.Service.RegisterEndpoints = true
	model.Service.Listen = u
	if *useTLS {
		model.Service.TLS = new(tls.Config)
		if *tlsCert != "" {
			cert, err := tls.LoadX509KeyPair(*tlsCert, *tlsKey)
			if err != nil {
				log.Fatal(err)
			}
			model.Service.TLS.Certificates = []tls.Certificate{cert}
		}
	}
	s := model.Service.NewServer()
	fmt.Printf("export GOVC_URL=%s GOVC_SIM_PID=%d\n", s.URL, os.Getpid())

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
	s.Close()
	model.Remove() // deletes the /tmp/govcsim-* datastore dirs it created
}
EOF

# Five fixes and additions to the packaged simulator, applied with go build -overlay
# (the files under /usr/share/gocode stay untouched):
#  1. task.go: TaskInfo.entity was set to non-ManagedEntity refs (VirtualDiskManager,
#     FileManager); pyVmomi 7.x-9.x reject that with TypeError in WaitForTask.
#  2. datastore.go: RefreshDatastore returned an empty SOAP body (nil Res).
cp "$GOSRC/simulator/task.go" "$GOSRC/simulator/datastore.go" "$OUT_DIR/overlay/"
sed -i \
  -e 's/^\ttask\.Info\.Entity = &ref$/\tif _, ok := Map.Get(ref).(mo.Entity); ok { task.Info.Entity = \&ref }/' \
  -e 's/^\ttask\.Info\.EntityName = ref\.Value$/\tif task.Info.Entity != nil { task.Info.EntityName = ref.Value }/' \
  "$OUT_DIR/overlay/task.go"
sed -i -e 's/^\tinfo\.MaxFileSize = info\.FreeSpace$/&\n\tr.Res = new(types.RefreshDatastoreResponse)/' \
  "$OUT_DIR/overlay/datastore.go"
grep -q 'Map.Get(ref).(mo.Entity)' "$OUT_DIR/overlay/task.go" || { echo "task.go patch failed" >&2; exit 1; }
grep -q 'RefreshDatastoreResponse' "$OUT_DIR/overlay/datastore.go" || { echo "datastore.go patch failed" >&2; exit 1; }
#  3. custom_fields_manager.go: SetField appended a second value for a key already set (vCenter
#     replaces it) and, like RenameCustomFieldDef, told no PropertyCollector; vdvs's VM watcher
#     follows customValue and the attribute definitions (membership rules on custom attributes).
cp "$GOSRC/simulator/custom_fields_manager.go" "$OUT_DIR/overlay/"
perl -0pi \
  -e 's/\tentity := Map\.Get\(req\.Entity\)\.\(mo\.Entity\)\.Entity\(\)\n/\tobj := Map.Get(req.Entity)\n\tentity := obj.(mo.Entity).Entity()\n/;' \
  -e 's/append\(entity\.CustomValue, newValue\)/setFieldValue(entity.CustomValue, newValue)/;' \
  -e 's/append\(entity\.Value, newValue\)/setFieldValue(entity.Value, newValue)/;' \
  -e 's/(setFieldValue\(entity\.Value, newValue\)\n\t\}\)\n)/$1\tMap.Update(obj, []types.PropertyChange{{Name: "customValue", Val: entity.CustomValue}, {Name: "value", Val: entity.Value}})\n/;' \
  -e 's/(\tentitiesFieldRename\(\*field\)\n)/$1\tMap.Update(c, []types.PropertyChange{{Name: "field", Val: c.Field}})\n/;' \
  "$OUT_DIR/overlay/custom_fields_manager.go"
cat >> "$OUT_DIR/overlay/custom_fields_manager.go" <<'EOF'

func setFieldValue(values []types.BaseCustomFieldValue, value *types.CustomFieldStringValue) []types.BaseCustomFieldValue {
	for i, old := range values {
		if old.GetCustomFieldValue().Key == value.Key {
			values[i] = value
			return values
		}
	}
	return append(values, value)
}
EOF
[ "$(grep -c 'Map.Update' "$OUT_DIR/overlay/custom_fields_manager.go")" = 2 ] || { echo "custom_fields_manager.go patch failed" >&2; exit 1; }
# 4. VirtualDiskManager.ExtendVirtualDisk_Task (online extend, issue 14), which 0.24.2 lacks: a file added
#    to the simulator package. It grows the disk's -flat file to the new capacity (vcsim's disks are
#    files, whose size the guest-disk emulator gives the guest), refusing a smaller one.
cat > "$OUT_DIR/overlay/vdvs_extend_disk.go" <<'EOF'
package simulator

import (
	"os"

	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

func (m *VirtualDiskManager) ExtendVirtualDiskTask(_ *Context, req *types.ExtendVirtualDisk_Task) soap.HasFault {
	task := CreateTask(m, "extendVirtualDisk", func(*Task) (types.AnyType, types.BaseMethodFault) {
		fm := Map.FileManager()
		file, fault := fm.resolve(req.Datacenter, req.Name)
		if fault != nil {
			return nil, fault
		}
		if _, err := os.Stat(file); err != nil {
			return nil, fm.fault(file, err, new(types.FileNotFound))
		}
		flat := vdmNames(file)[0]
		size := req.NewCapacityKb * 1024
		if info, err := os.Stat(flat); err == nil && info.Size() > size {
			return nil, &types.InvalidArgument{InvalidProperty: "newCapacityKb"}
		}
		if err := os.Truncate(flat, size); err != nil {
			return nil, fm.fault(flat, err, new(types.CannotAccessFile))
		}
		return nil, nil
	})

	return &methods.ExtendVirtualDisk_TaskBody{
		Res: &types.ExtendVirtualDisk_TaskResponse{
			Returnval: task.Run(),
		},
	}
}
EOF
# 5. vstorage_object_manager.go: a First Class Disk snapshot kept no data (a record only), and
#    CreateDiskFromSnapshot_Task was missing: tools/vcsim/vstorage_object_snapshot_data.go adds both
#    (a snapshot copies the disk's files, as vCenter's delta disk freezes them; vdvs snapshots, issue 14).
cp "$GOSRC/simulator/vstorage_object_manager.go" "$OUT_DIR/overlay/"
cp "$(dirname "$0")/vcsim/vstorage_object_snapshot_data.go" "$OUT_DIR/overlay/"
perl -0pi \
  -e 's/(\t\tobj\.Snapshots = append\(obj\.Snapshots, snapshot\)\n)/\t\tif err := keepSnapshotData(obj, snapshot.Id.Id); err != nil {\n\t\t\treturn nil, err\n\t\t}\n$1/;' \
  -e 's/(\t\t\t\tif \*obj\.Snapshots\[i\]\.Id == req\.SnapshotId \{\n)/$1\t\t\t\t\tdropSnapshotData(obj, req.SnapshotId.Id)\n/;' \
  "$OUT_DIR/overlay/vstorage_object_manager.go"
grep -q 'keepSnapshotData(obj' "$OUT_DIR/overlay/vstorage_object_manager.go" || { echo "vstorage_object_manager.go patch failed" >&2; exit 1; }
grep -q 'dropSnapshotData(obj' "$OUT_DIR/overlay/vstorage_object_manager.go" || { echo "vstorage_object_manager.go patch failed" >&2; exit 1; }
printf '{"Replace":{"%s":"%s","%s":"%s","%s":"%s","%s":"%s","%s":"%s","%s":"%s"}}\n' \
  "$GOSRC/simulator/task.go" "$OUT_DIR/overlay/task.go" \
  "$GOSRC/simulator/datastore.go" "$OUT_DIR/overlay/datastore.go" \
  "$GOSRC/simulator/custom_fields_manager.go" "$OUT_DIR/overlay/custom_fields_manager.go" \
  "$GOSRC/simulator/vdvs_extend_disk.go" "$OUT_DIR/overlay/vdvs_extend_disk.go" \
  "$GOSRC/simulator/vstorage_object_manager.go" "$OUT_DIR/overlay/vstorage_object_manager.go" \
  "$GOSRC/simulator/vstorage_object_snapshot_data.go" "$OUT_DIR/overlay/vstorage_object_snapshot_data.go" \
  > "$OUT_DIR/overlay.json"

cd "$OUT_DIR"
GOPATH="$OUT_DIR:/usr/share/gocode" GO111MODULE=off GOPROXY=off GOFLAGS= \
GOCACHE="${GOCACHE:-$OUT_DIR/.gocache}" \
  go build -trimpath -ldflags='-s -w' -overlay "$OUT_DIR/overlay.json" -o "$OUT_DIR/vcsim" vcsim
echo "built $OUT_DIR/vcsim"
