/// Vectorised exp and log on SIMD8<Double> for the household kernels (PERFORMANCE-NOTES.md: faster than
/// glibc's scalar calls and than libmvec's 4-wide AVX2 versions). Polynomials use FMAs (Swift never
/// contracts a*b+c itself) in Estrin's scheme, whose short dependency chains keep the FMA units busy.
/// Errors are a few ulps (SIMDMathTests); results are deterministic and identical on every rank.
public typealias Vec = SIMD8<Double>

@_transparent @usableFromInline
func fma(_ a: Vec, _ b: Vec, _ c: Double) -> Vec { Vec(repeating: c).addingProduct(a, b) }
@_transparent @usableFromInline
func fma(_ a: Vec, _ b: Vec, _ c: Vec) -> Vec { c.addingProduct(a, b) }

/// exp(x): x = n ln2 + r with |r| ≤ ln2/2, degree-13 Taylor polynomial (truncation < 1e-17 relative), then
/// 2ⁿ through the exponent bits. Below −708 the result is 0, above 709.78 it is +inf; NaN stays NaN.
@_transparent
public func vexp(_ x: Vec) -> Vec {
    var xc = x
    xc.replace(with: Vec(repeating: 709.78), where: x .> 709.78)
    xc.replace(with: Vec(repeating: -708.0), where: x .< -708.0)
    xc.replace(with: 0, where: x .!= x)
    var out = vexpInRange(xc)
    out.replace(with: 0, where: x .< -708.0)
    out.replace(with: .infinity, where: x .> 709.78)
    out.replace(with: x, where: x .!= x)
    return out
}

/// exp(x) for x in [−708, 709.78] (no special cases).
@_transparent
public func vexpInRange(_ xc: Vec) -> Vec {
    // Round to nearest with the 1.5·2⁵² trick: the integer n sits in the low mantissa bits of `shifted`.
    // (Generic SIMD Double↔Int conversions are not lowered to vector instructions.)
    let magic = 6755399441055744.0
    let shifted = fma(xc, Vec(repeating: 1.44269504088896338700), magic)
    let n = shifted - magic
    let r = fma(n, Vec(repeating: -1.90821492927058770002e-10), fma(n, Vec(repeating: -6.93147180369123816490e-01), xc))
    // Estrin: Σ_{k=0}^{13} r^k / k!
    let r2 = r * r, r4 = r2 * r2, r8 = r4 * r4
    let q0 = fma(r, Vec(repeating: 1), 1), q1 = fma(r, Vec(repeating: 1.0 / 6), 0.5)
    let q2 = fma(r, Vec(repeating: 1.0 / 120), 1.0 / 24), q3 = fma(r, Vec(repeating: 1.0 / 5040), 1.0 / 720)
    let q4 = fma(r, Vec(repeating: 1.0 / 362880), 1.0 / 40320), q5 = fma(r, Vec(repeating: 1.0 / 39916800), 1.0 / 3628800)
    let q6 = fma(r, Vec(repeating: 1.0 / 6227020800), 1.0 / 479001600)
    let s0 = fma(q1, r2, q0), s1 = fma(q3, r2, q2), s2 = fma(q5, r2, q4)
    let t0 = fma(s1, r4, s0), t1 = fma(q6, r4, s2)
    let p = fma(t1, r8, t0)
    let nInt = unsafeBitCast(shifted, to: SIMD8<Int64>.self) &- unsafeBitCast(Vec(repeating: magic), to: SIMD8<Int64>.self)
    return p * unsafeBitCast((nInt &+ 1023) &<< 52, to: Vec.self)
}

/// log(x) for positive normal x: x = m 2ᵉ with m in [√½, √2), log m = 2 atanh(s), s = (m−1)/(m+1),
/// series to s²³ (|s| ≤ 0.1716, truncation < 1e-17). Non-positive x gives NaN.
@_transparent
public func vlog(_ x: Vec) -> Vec {
    var out = vlogPositive(x)
    out.replace(with: .nan, where: .!(x .> 0))
    out.replace(with: .infinity, where: x .== .infinity)
    return out
}

/// log(x) for positive finite normal x (no special cases).
@_transparent
public func vlogPositive(_ x: Vec) -> Vec {
    let bits = unsafeBitCast(x, to: SIMD8<UInt64>.self)
    // Biased exponent as a double, exactly: 2⁵² + e has e in its low mantissa bits.
    let two52 = 4503599627370496.0
    var e = unsafeBitCast((bits &>> 52) | unsafeBitCast(Vec(repeating: two52), to: SIMD8<UInt64>.self), to: Vec.self)
        - (two52 + 1023)
    var m = unsafeBitCast((bits & 0x000F_FFFF_FFFF_FFFF) | 0x3FF0_0000_0000_0000, to: Vec.self)
    let big = m .> 1.4142135623730951
    m.replace(with: m * 0.5, where: big)
    e.replace(with: e + 1, where: big)
    let s = (m - 1) / (m + 1)
    let z = s * s, z2 = z * z, z4 = z2 * z2, z8 = z4 * z4
    // Estrin: Σ_{k=0}^{11} 2/(2k+1) z^k
    let q0 = fma(z, Vec(repeating: 2.0 / 3), 2), q1 = fma(z, Vec(repeating: 2.0 / 7), 2.0 / 5)
    let q2 = fma(z, Vec(repeating: 2.0 / 11), 2.0 / 9), q3 = fma(z, Vec(repeating: 2.0 / 15), 2.0 / 13)
    let q4 = fma(z, Vec(repeating: 2.0 / 19), 2.0 / 17), q5 = fma(z, Vec(repeating: 2.0 / 23), 2.0 / 21)
    let s0 = fma(q1, z2, q0), s1 = fma(q3, z2, q2), s2 = fma(q5, z2, q4)
    let t0 = fma(s1, z4, s0)
    let p = fma(s2, z8, t0)
    return fma(e, Vec(repeating: 6.93147180369123816490e-01), fma(s, p, e * 1.90821492927058770002e-10))
}

/// c^−γ = exp(−γ log c) for the kernel's consumption, where non-positive or NaN c is rejected by the caller
/// (it counts such states and fails the step): the NaN and non-positive branches of vexp and vlog are left
/// out, the overflow clamps kept. For positive finite c the result is bitwise vexp(power · vlog(c)).
@_transparent
public func vpowPositive(_ c: Vec, _ power: Vec) -> Vec {
    let x = power * vlogPositive(c)
    var xc = x
    xc.replace(with: Vec(repeating: 709.78), where: x .> 709.78)
    xc.replace(with: Vec(repeating: -708.0), where: x .< -708.0)
    var out = vexpInRange(xc)
    out.replace(with: 0, where: x .< -708.0)
    out.replace(with: .infinity, where: x .> 709.78)
    return out
}

/// In-place element-wise kernels over n contiguous doubles, eight at a time; the tail goes through the
/// same vector code so every element gets identical arithmetic wherever it sits.
public enum VectorMath {
    /// Load the vector at i: unaligned when `full`, else the n − i remaining elements padded with ones.
    @inline(__always) static func load(_ p: UnsafePointer<Double>, _ i: Int, _ n: Int, full: Bool) -> Vec {
        if full { return UnsafeRawPointer(p + i).loadUnaligned(as: Vec.self) }
        var v = Vec(repeating: 1)
        for k in 0..<(n - i) { v[k] = p[i + k] }
        return v
    }

    @inline(__always) static func store(_ v: Vec, _ p: UnsafeMutablePointer<Double>, _ i: Int, _ n: Int, full: Bool) {
        if full { UnsafeMutableRawPointer(p + i).storeBytes(of: v, as: Vec.self); return }
        for k in 0..<(n - i) { p[i + k] = v[k] }
    }

    @inline(__always) static func load(_ p: UnsafeMutablePointer<Double>, _ i: Int, _ n: Int) -> Vec {
        if i + 8 <= n { return UnsafeRawPointer(p + i).loadUnaligned(as: Vec.self) }
        var v = Vec(repeating: 1)
        for k in 0..<(n - i) { v[k] = p[i + k] }
        return v
    }

    @inline(__always) static func store(_ v: Vec, _ p: UnsafeMutablePointer<Double>, _ i: Int, _ n: Int) {
        if i + 8 <= n { UnsafeMutableRawPointer(p + i).storeBytes(of: v, as: Vec.self); return }
        for k in 0..<(n - i) { p[i + k] = v[k] }
    }

    /// p[i] = exp(p[i])
    public static func exp(_ p: UnsafeMutablePointer<Double>, count n: Int) {
        var i = 0
        while i < n { store(vexp(load(p, i, n)), p, i, n); i += 8 }
    }

    /// p[i] = log(p[i])
    public static func log(_ p: UnsafeMutablePointer<Double>, count n: Int) {
        var i = 0
        while i < n { store(vlog(load(p, i, n)), p, i, n); i += 8 }
    }

    /// p[i] = p[i]^power = exp(power · log p[i]) for positive p[i]
    public static func pow(_ p: UnsafeMutablePointer<Double>, count n: Int, power: Double) {
        var i = 0
        while i < n { store(vexp(power * vlog(load(p, i, n))), p, i, n); i += 8 }
    }
}
