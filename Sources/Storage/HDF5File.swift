import CHDF5
import CMPI
import Foundation
import Parallel

/// An HDF5 failure at the boundary, naming the operation and the file.
public struct HDF5Error: Error, CustomStringConvertible {
    public let operation: String
    public let path: String
    public var description: String { "HDF5: \(operation) failed for \(path)" }
    public init(operation: String, path: String) { self.operation = operation; self.path = path }
}

/// An HDF5 file opened by every rank of a communicator through MPI-IO (or serially with `nil`).
///
/// Creation of groups, datasets and attributes is collective (every rank makes the same calls with the
/// same arguments); `write` is a collective hyperslab transfer in which each rank writes its own rows
/// (a rank with nothing to write passes an empty selection).
public final class HDF5File {
    public let path: String
    let id: hid_t
    let communicator: Communicator?

    private init(path: String, id: hid_t, communicator: Communicator?) {
        self.path = path; self.id = id; self.communicator = communicator
    }

    deinit {
        if H5Fclose(id) < 0 { HDF5File.closeFailed.value = true }
    }

    private final class Flag: @unchecked Sendable { var value = false }
    private static let closeFailed = Flag()

    /// Whether closing some file failed (a write into a full disk). HDF5 then keeps the file half-closed and
    /// crashes when it terminates (at MPI_Finalize, or its exit handler): a process in this state must end
    /// with `_exit`, without finalising MPI (`hat` does so on its I/O-failure path).
    public static var leftBrokenFile: Bool { closeFailed.value }

    static let libraryOptions: Void = { H5dont_atexit() }()

    static func accessList(_ comm: Communicator?) -> hid_t {
        let fapl = H5Pcreate(H5P_FILE_ACCESS)
        if let comm { H5Pset_fapl_mpio(fapl, comm.handle, MPI_INFO_NULL) }
        // The 1.8 file format or later: needed for dense attribute storage (below); readable by h5py and
        // h5dump of any HDF5 from 1.8 on.
        H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_V110)
        return fapl
    }

    /// Create (truncate) a file. Collective when `communicator` is given. Attributes of the root group are
    /// stored densely (in a heap, not the object header), so one may exceed the header's 64 KiB limit: the
    /// configuration text of a large explicit world is one such attribute.
    public static func create(_ path: String, communicator: Communicator?) throws -> HDF5File {
        silenceErrorStack()
        let fapl = accessList(communicator)
        defer { H5Pclose(fapl) }
        let fcpl = H5Pcreate(H5P_FILE_CREATE)
        defer { H5Pclose(fcpl) }
        H5Pset_attr_phase_change(fcpl, 0, 0)
        // A symbolic link at the path is replaced, not written through (HDF5 would follow it and truncate
        // the file it names). One rank removes it; the others wait so that none opens the old link.
        if communicator?.isRoot ?? true {
            var info = stat()
            if lstat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFLNK { unlink(path) }
        }
        if let communicator { try communicator.barrier() }
        let id = H5Fcreate(path, H5F_ACC_TRUNC, fcpl, fapl)
        guard id >= 0 else { throw HDF5Error(operation: "create", path: path) }
        return HDF5File(path: path, id: id, communicator: communicator)
    }

    /// Open an existing file read-only (serially unless a communicator is given).
    public static func open(_ path: String, communicator: Communicator? = nil) throws -> HDF5File {
        silenceErrorStack()
        let fapl = accessList(communicator)
        defer { H5Pclose(fapl) }
        let id = H5Fopen(path, H5F_ACC_RDONLY, fapl)
        guard id >= 0 else { throw HDF5Error(operation: "open", path: path) }
        return HDF5File(path: path, id: id, communicator: communicator)
    }

    /// HDF5 prints its error stack by default; errors are reported as Swift errors instead.
    static func silenceErrorStack() {
        _ = libraryOptions
        H5Eset_auto2(H5P_DEFAULT, nil, nil)
    }

    /// Flush everything to disk (collective).
    public func flush() throws {
        try agree(H5Fflush(id, H5F_SCOPE_GLOBAL) >= 0, "flush")
    }

    // MARK: - Groups, datasets, attributes

    /// Create a group (and its parents).
    public func createGroup(_ name: String) throws {
        let lcpl = H5Pcreate(H5P_LINK_CREATE)
        defer { H5Pclose(lcpl) }
        H5Pset_create_intermediate_group(lcpl, 1)
        let g = H5Gcreate2(id, name, lcpl, H5P_DEFAULT, H5P_DEFAULT)
        guard g >= 0 else { throw HDF5Error(operation: "create group \(name)", path: path) }
        H5Gclose(g)
    }

    /// Create a double dataset of the given shape (C order, last index fastest) with string attributes.
    public func createDataset(_ name: String, shape: [Int], attributes: [String: String] = [:]) throws {
        var dims = shape.map { hsize_t($0) }
        let space = H5Screate_simple(Int32(dims.count), &dims, nil)
        defer { H5Sclose(space) }
        let lcpl = H5Pcreate(H5P_LINK_CREATE)
        defer { H5Pclose(lcpl) }
        H5Pset_create_intermediate_group(lcpl, 1)
        let ds = H5Dcreate2(id, name, H5T_NATIVE_DOUBLE, space, lcpl, H5P_DEFAULT, H5P_DEFAULT)
        guard ds >= 0 else { throw HDF5Error(operation: "create dataset \(name)", path: path) }
        defer { H5Dclose(ds) }
        for (key, value) in attributes.sorted(by: { $0.key < $1.key }) { try setAttribute(on: ds, key, value) }
    }

    /// Write rows `[first, first + count)` of the leading dimension of a dataset (collective with MPI-IO).
    /// `values` holds those rows in C order.
    public func write(_ name: String, rows first: Int, count: Int, values: [Double]) throws {
        let ds = H5Dopen2(id, name, H5P_DEFAULT)
        guard ds >= 0 else { throw HDF5Error(operation: "open dataset \(name)", path: path) }
        defer { H5Dclose(ds) }
        let fileSpace = H5Dget_space(ds)
        defer { H5Sclose(fileSpace) }
        let dims = HDF5File.dimensions(of: fileSpace).map { hsize_t($0) }
        let rank = dims.count
        var memDims: [hsize_t]
        if rank == 0 {
            memDims = [1]
            if count == 0 { H5Sselect_none(fileSpace) }
        } else {
            var start = [hsize_t](repeating: 0, count: rank)
            var counts = dims
            start[0] = hsize_t(first)
            counts[0] = hsize_t(count)
            if count == 0 { H5Sselect_none(fileSpace) } else {
                H5Sselect_hyperslab(fileSpace, H5S_SELECT_SET, &start, nil, &counts, nil)
            }
            memDims = counts
        }
        let expected = memDims.reduce(1) { $0 * Int($1) }
        precondition(count == 0 || values.count == expected, "write \(name): \(values.count) values for \(expected)")
        var memCount = [hsize_t(max(values.count, 1))]
        let memSpace = H5Screate_simple(1, &memCount, nil)
        defer { H5Sclose(memSpace) }
        if count == 0 { H5Sselect_none(memSpace) }
        let dxpl = H5Pcreate(H5P_DATASET_XFER)
        defer { H5Pclose(dxpl) }
        if communicator != nil { H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE) }
        let buffer = values.isEmpty ? [0.0] : values
        let status = buffer.withUnsafeBufferPointer { H5Dwrite(ds, H5T_NATIVE_DOUBLE, memSpace, fileSpace, dxpl, $0.baseAddress) }
        try agree(status >= 0, "write \(name)")
    }

    /// Write hyperslabs `start ..< start + count` (one per block, `values` in C order), a different number on
    /// every rank (collective with MPI-IO: the ranks agree on the largest number of blocks and pad with empty
    /// selections).
    public func write(_ name: String, blocks: [(start: [Int], count: [Int], values: [Double])]) throws {
        var rounds = blocks.count
        if let communicator, communicator.size > 1 { rounds = Int(try communicator.allReduce([Int64(blocks.count)])[0]) }
        let ds = H5Dopen2(id, name, H5P_DEFAULT)
        guard ds >= 0 else { throw HDF5Error(operation: "open dataset \(name)", path: path) }
        defer { H5Dclose(ds) }
        for k in 0..<rounds {
            let fileSpace = H5Dget_space(ds)
            defer { H5Sclose(fileSpace) }
            let block = k < blocks.count ? blocks[k] : nil
            var memCount = [hsize_t(max(block?.values.count ?? 1, 1))]
            let memSpace = H5Screate_simple(1, &memCount, nil)
            defer { H5Sclose(memSpace) }
            if let block {
                precondition(block.values.count == block.count.reduce(1, *), "write \(name): block size")
                var start = block.start.map { hsize_t($0) }, counts = block.count.map { hsize_t($0) }
                H5Sselect_hyperslab(fileSpace, H5S_SELECT_SET, &start, nil, &counts, nil)
            } else {
                H5Sselect_none(fileSpace); H5Sselect_none(memSpace)
            }
            let dxpl = H5Pcreate(H5P_DATASET_XFER)
            defer { H5Pclose(dxpl) }
            if communicator != nil { H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE) }
            let buffer = block?.values ?? [0.0]
            let status = buffer.withUnsafeBufferPointer { H5Dwrite(ds, H5T_NATIVE_DOUBLE, memSpace, fileSpace, dxpl, $0.baseAddress) }
            try agree(status >= 0, "write \(name)")
        }
    }

    /// Collective success: a transfer can fail on one rank only (its part hit a full disk), and a rank that
    /// went on to the next collective call while another gave up would wait forever. Every rank learns
    /// whether any failed and throws alike.
    func agree(_ ok: Bool, _ operation: String) throws {
        var failed = !ok
        if let communicator, communicator.size > 1 {
            failed = try communicator.allReduce([failed ? 1 : 0])[0] == 1
        }
        if failed { throw HDF5Error(operation: operation, path: path) }
    }

    /// Create a dataset and write all of it from every rank's identical copy (rank 0's rows are written
    /// by rank 0 only, so the transfer stays collective).
    public func writeShared(_ name: String, shape: [Int], values: [Double], attributes: [String: String] = [:]) throws {
        try createDataset(name, shape: shape, attributes: attributes)
        let isWriter = communicator?.isRoot ?? true
        let rows = shape.first ?? 1
        try write(name, rows: 0, count: isWriter ? (shape.isEmpty ? 1 : rows) : 0, values: isWriter ? values : [])
    }

    /// Attach a string attribute to the file root (`"/"`) or to a group or dataset.
    public func setAttribute(_ object: String, _ key: String, _ value: String) throws {
        let obj = H5Oopen(id, object, H5P_DEFAULT)
        guard obj >= 0 else { throw HDF5Error(operation: "open \(object)", path: path) }
        defer { H5Oclose(obj) }
        try setAttribute(on: obj, key, value)
    }

    func setAttribute(on obj: hid_t, _ key: String, _ value: String) throws {
        let type = H5Tcopy(H5T_C_S1)
        defer { H5Tclose(type) }
        let bytes = Array(value.utf8)
        H5Tset_size(type, max(bytes.count, 1))
        H5Tset_cset(type, H5T_CSET_UTF8)
        let space = H5Screate(H5S_SCALAR)
        defer { H5Sclose(space) }
        let attr = H5Acreate2(obj, key, type, space, H5P_DEFAULT, H5P_DEFAULT)
        guard attr >= 0 else { throw HDF5Error(operation: "create attribute \(key)", path: path) }
        defer { H5Aclose(attr) }
        let buffer = bytes.isEmpty ? [UInt8(0)] : bytes
        let status = buffer.withUnsafeBufferPointer { H5Awrite(attr, type, $0.baseAddress) }
        guard status >= 0 else { throw HDF5Error(operation: "write attribute \(key)", path: path) }
    }

    // MARK: - Reading (serial)

    /// The shape of a dataset.
    public func shape(_ name: String) throws -> [Int] {
        let ds = H5Dopen2(id, name, H5P_DEFAULT)
        guard ds >= 0 else { throw HDF5Error(operation: "open dataset \(name)", path: path) }
        defer { H5Dclose(ds) }
        let space = H5Dget_space(ds)
        defer { H5Sclose(space) }
        return HDF5File.dimensions(of: space)
    }

    /// The extent of a dataspace ([] for a scalar).
    static func dimensions(of space: hid_t) -> [Int] {
        let rank = Int(H5Sget_simple_extent_ndims(space))
        guard rank > 0 else { return [] }
        var dims = [hsize_t](repeating: 0, count: rank)
        H5Sget_simple_extent_dims(space, &dims, nil)
        return dims.map { Int($0) }
    }

    /// Read a whole double dataset in C order.
    public func read(_ name: String) throws -> [Double] {
        let n = try shape(name).reduce(1, *)
        let ds = H5Dopen2(id, name, H5P_DEFAULT)
        guard ds >= 0 else { throw HDF5Error(operation: "open dataset \(name)", path: path) }
        defer { H5Dclose(ds) }
        var out = [Double](repeating: 0, count: n)
        let status = out.withUnsafeMutableBufferPointer { H5Dread(ds, H5T_NATIVE_DOUBLE, hid_t(H5S_ALL), hid_t(H5S_ALL), H5P_DEFAULT, $0.baseAddress) }
        guard status >= 0 else { throw HDF5Error(operation: "read \(name)", path: path) }
        return out
    }

    /// Read rows `[first, first + count)` of the leading dimension of a double dataset, in C order.
    public func read(_ name: String, rows first: Int, count: Int) throws -> [Double] {
        let dims = try shape(name)
        guard let rows = dims.first, first >= 0, count >= 0, first + count <= rows else {
            throw HDF5Error(operation: "read rows \(first)..<\(first + count) of \(name)", path: path)
        }
        let perRow = dims.dropFirst().reduce(1, *)
        var out = [Double](repeating: 0, count: count * perRow)
        guard count > 0 else { return out }
        let ds = H5Dopen2(id, name, H5P_DEFAULT)
        guard ds >= 0 else { throw HDF5Error(operation: "open dataset \(name)", path: path) }
        defer { H5Dclose(ds) }
        let fileSpace = H5Dget_space(ds)
        defer { H5Sclose(fileSpace) }
        var start = [hsize_t](repeating: 0, count: dims.count)
        var counts = dims.map { hsize_t($0) }
        start[0] = hsize_t(first)
        counts[0] = hsize_t(count)
        H5Sselect_hyperslab(fileSpace, H5S_SELECT_SET, &start, nil, &counts, nil)
        var memCount = [hsize_t(out.count)]
        let memSpace = H5Screate_simple(1, &memCount, nil)
        defer { H5Sclose(memSpace) }
        let status = out.withUnsafeMutableBufferPointer { H5Dread(ds, H5T_NATIVE_DOUBLE, memSpace, fileSpace, H5P_DEFAULT, $0.baseAddress) }
        guard status >= 0 else { throw HDF5Error(operation: "read \(name)", path: path) }
        return out
    }

    /// Whether the file has an object (group or dataset) at `name` (intermediate groups must exist).
    public func exists(_ name: String) -> Bool {
        var prefix = ""
        for part in name.split(separator: "/") {
            prefix += (prefix.isEmpty ? "" : "/") + part
            guard H5Lexists(id, prefix, H5P_DEFAULT) > 0 else { return false }
        }
        return true
    }

    /// Read a string attribute of an object.
    public func attribute(_ object: String, _ key: String) throws -> String {
        let attr = H5Aopen_by_name(id, object, key, H5P_DEFAULT, H5P_DEFAULT)
        guard attr >= 0 else { throw HDF5Error(operation: "open attribute \(object)/\(key)", path: path) }
        defer { H5Aclose(attr) }
        let type = H5Aget_type(attr)
        defer { H5Tclose(type) }
        let size = H5Tget_size(type)
        var buffer = [UInt8](repeating: 0, count: size + 1)
        let status = buffer.withUnsafeMutableBufferPointer { H5Aread(attr, type, $0.baseAddress) }
        guard status >= 0 else { throw HDF5Error(operation: "read attribute \(key)", path: path) }
        return String(decoding: buffer.prefix { $0 != 0 }, as: UTF8.self)
    }
}
