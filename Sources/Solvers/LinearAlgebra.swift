import COpenBLAS

/// Minimum-norm least-squares solution of A x ≈ b for a row-major n × n matrix (LAPACK dgelsd), so a
/// singular or ill-conditioned Jacobian still yields a usable Newton direction. Nil if LAPACK fails.
public func leastSquaresSolve(_ a: [Double], _ b: [Double], n: Int) -> [Double]? {
    var a = a, b = b
    var singular = [Double](repeating: 0, count: n)
    var rank: Int32 = 0
    let info = LAPACKE_dgelsd(LAPACK_ROW_MAJOR, Int32(n), Int32(n), 1, &a, Int32(n), &b, 1, &singular,
                              -1, &rank)
    guard info == 0, b.allSatisfy({ $0.isFinite }) else { return nil }
    return b
}

@inline(__always) func dot(_ x: [Double], _ y: [Double]) -> Double {
    var s = 0.0
    for i in x.indices { s += x[i] * y[i] }
    return s
}

/// Euclidean norm.
public func norm2(_ x: [Double]) -> Double { dot(x, x).squareRoot() }

/// max_i |x_i|, NaN if any entry is NaN (Swift's `max()` would skip a NaN that is not first).
public func normInf(_ x: [Double]) -> Double {
    // A NaN anywhere makes the norm NaN (`map(abs).max()` would drop it and report a finite residual).
    var m = 0.0
    for v in x {
        if v.isNaN { return .nan }
        if abs(v) > m { m = abs(v) }
    }
    return m
}

/// y = A x for a row-major n × n matrix.
func matVec(_ a: [Double], _ x: [Double], n: Int) -> [Double] {
    (0..<n).map { i in
        var s = 0.0
        for j in 0..<n { s += a[i * n + j] * x[j] }
        return s
    }
}

/// y = Aᵀ x for a row-major n × n matrix.
func matTVec(_ a: [Double], _ x: [Double], n: Int) -> [Double] {
    var y = [Double](repeating: 0, count: n)
    for i in 0..<n { for j in 0..<n { y[j] += a[i * n + j] * x[i] } }
    return y
}

/// Solve A X = B for a row-major n × n matrix A and a row-major n × k right-hand side B (LAPACK dgesv,
/// LU with partial pivoting). Nil when A is singular or the solution is not finite.
public func linearSolve(_ a: [Double], _ b: [Double], n: Int, columns k: Int) -> [Double]? {
    precondition(a.count == n * n && b.count == n * k)
    var a = a, b = b
    var pivots = [Int32](repeating: 0, count: n)
    let info = LAPACKE_dgesv(LAPACK_ROW_MAJOR, Int32(n), Int32(k), &a, Int32(n), &pivots, &b, Int32(max(k, 1)))
    guard info == 0, b.allSatisfy({ $0.isFinite }) else { return nil }
    return b
}
