// Added to govmomi's simulator by tools/build-vcsim.sh (go build -overlay): a First Class Disk snapshot
// keeps the data of its moment, and CreateDiskFromSnapshot_Task makes a new disk of it.
//
// The packaged simulator records a snapshot without data, so reading "the old data" from a snapshot
// could not be tested. Here a snapshot copies the disk's files (what vCenter's delta disk freezes)
// to fcd/snap-<id>.vmdk on the disk's datastore; CreateDiskFromSnapshot_Task copies those to the
// path asked for (relative to the datastore, default fcd/<uuid>.vmdk) and registers the copy as a
// new First Class Disk; DeleteSnapshot_Task deletes them.
package simulator

import (
	"os"
	"path/filepath"

	"github.com/google/uuid"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

func snapshotDataPath(obj *VStorageObject, id string) (*Datastore, string) {
	backing := obj.Config.Backing.(*types.BaseConfigInfoDiskFileBackingInfo)
	ds := Map.Get(backing.Datastore).(*Datastore)
	return ds, (&object.DatastorePath{Datastore: ds.Name, Path: "fcd/snap-" + id + ".vmdk"}).String()
}

// copyDisk copies a disk's descriptor and, when it has one, its -flat extent.
func copyDisk(ds *Datastore, source, target string) types.BaseMethodFault {
	dc := Map.getEntityDatacenter(ds)
	_ = os.MkdirAll(filepath.Join(ds.Info.GetDatastoreInfo().Url, "fcd"), 0750)
	fm := Map.FileManager()
	dest := vdmNames(target)
	for i, name := range vdmNames(source) {
		fault := fm.copyDatastoreFile(&types.CopyDatastoreFile_Task{
			SourceName: name, SourceDatacenter: &dc.Self, DestinationName: dest[i], DestinationDatacenter: &dc.Self,
		})
		if fault != nil && i == 0 {
			return fault
		}
	}
	return nil
}

func keepSnapshotData(obj *VStorageObject, id string) types.BaseMethodFault {
	backing := obj.Config.Backing.(*types.BaseConfigInfoDiskFileBackingInfo)
	ds, path := snapshotDataPath(obj, id)
	return copyDisk(ds, backing.FilePath, path)
}

func dropSnapshotData(obj *VStorageObject, id string) {
	ds, path := snapshotDataPath(obj, id)
	dc := Map.getEntityDatacenter(ds)
	for _, name := range vdmNames(path) {
		_ = Map.FileManager().deleteDatastoreFile(&types.DeleteDatastoreFile_Task{Name: name, Datacenter: &dc.Self})
	}
}

func (m *VcenterVStorageObjectManager) CreateDiskFromSnapshotTask(req *types.CreateDiskFromSnapshot_Task) soap.HasFault {
	task := CreateTask(m, "createDiskFromSnapshot", func(*Task) (types.AnyType, types.BaseMethodFault) {
		obj := m.object(req.Datastore, req.Id)
		if obj == nil {
			return nil, new(types.InvalidArgument)
		}
		found := false
		for _, s := range obj.Snapshots {
			found = found || s.Id.Id == req.SnapshotId.Id
		}
		if !found {
			return nil, &types.InvalidArgument{InvalidProperty: "snapshotId"}
		}
		ds, source := snapshotDataPath(obj, req.SnapshotId.Id)
		path := req.Path
		if path == "" {
			path = "fcd/" + uuid.New().String() + ".vmdk"
		}
		target := (&object.DatastorePath{Datastore: ds.Name, Path: path}).String()
		if fault := copyDisk(ds, source, target); fault != nil {
			return nil, fault
		}
		return m.createObject(&types.CreateDisk_Task{Spec: types.VslmCreateSpec{
			Name:         req.Name,
			CapacityInMB: obj.Config.CapacityInMB,
			BackingSpec: &types.VslmCreateSpecDiskFileBackingSpec{
				VslmCreateSpecBackingSpec: types.VslmCreateSpecBackingSpec{Datastore: req.Datastore, Path: path},
			},
		}}, true)
	})
	return &methods.CreateDiskFromSnapshot_TaskBody{
		Res: &types.CreateDiskFromSnapshot_TaskResponse{Returnval: task.Run()},
	}
}
