package dev.quantspec.cuda;

import org.bytedeco.cuda.cublas.cublasContext;
import org.bytedeco.cuda.global.cublas;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.Pointer;

import static org.bytedeco.cuda.global.cublas.*;

/**
 * Matrix products on tensor cores through cuBLAS (cublasGemmEx): 16-bit inputs (bf16 weights and
 * activations, fp16 attention operands), fp32 accumulation and fp32 output. Used by chunked prefill,
 * where a chunk of positions turns every GEMV of a decode step into a GEMM that is compute-bound.
 *
 * <p>All matrices are row-major as the rest of the backend stores them; cuBLAS is column-major, so
 * each product is issued as its transpose (a row-major [r][c] matrix is a column-major c x r one).
 * Runs on the context's stream, in order with our kernels. Not thread-safe, like the context.
 */
final class TensorCoreGemm implements AutoCloseable {
    /** Element types of cuBLAS (library_types.h): CUDA_R_32F, CUDA_R_16F, CUDA_R_16BF. */
    static final int F32 = 0, F16 = 2, BF16 = 14;

    private final cublasContext handle = new cublasContext();
    private final FloatPointer one = new FloatPointer(1f);    // host scalars: alpha / beta
    private final FloatPointer zero = new FloatPointer(0f);
    private final FloatPointer alpha = new FloatPointer(1);
    private boolean closed;

    TensorCoreGemm(CudaContext context) {
        try {
            Loader.load(cublas.class);
        } catch (UnsatisfiedLinkError e) {
            throw new CudaUnavailableException("cuBLAS (libcublas.so.13, libcublasLt.so.13) could not be loaded for "
                    + "chunked prefill: " + e.getMessage() + " (put /usr/local/cuda/lib64 on LD_LIBRARY_PATH)", e);
        }
        check(cublasCreate_v2(handle), "cublasCreate", "creating a cuBLAS handle on " + context.deviceName());
        check(cublasSetStream_v2(handle, context.stream()), "cublasSetStream", "binding cuBLAS to our stream");
        // Default math: bf16/fp16 GEMMs with fp32 compute use tensor cores; no TF32 downgrade of fp32 inputs.
        check(cublasSetMathMode(handle, CUBLAS_DEFAULT_MATH), "cublasSetMathMode", "");
    }

    /**
     * C[rows][n] (fp32, row-major) = A[rows][k] . W[n][k]^T + (accumulate ? C : 0): every row of A
     * through the linear layer W (bf16, the Hugging Face [out][in] layout); A bf16.
     */
    void linear(DeviceBuffer a, DeviceBuffer w, DeviceBuffer c, int rows, int n, int k, boolean accumulate) {
        String shapes = "A " + a.name() + " bf16[" + rows + "][" + k + "] . W " + w.name() + " bf16[" + n + "][" + k
                + "]^T -> C " + c.name() + " f32[" + rows + "][" + n + "]";
        CudaKernels.requirePositive(shapes, rows, n, k);
        CudaKernels.require(a, (long) rows * k * 2, shapes);
        CudaKernels.require(w, (long) n * k * 2, shapes);
        CudaKernels.require(c, (long) rows * n * 4, shapes);
        // column-major: C^T (n x rows) = op_T(W stored as k x n) . (A stored as k x rows)
        check(cublasGemmEx(handle, CUBLAS_OP_T, CUBLAS_OP_N, n, rows, k, one,
                        device(w), BF16, k,
                        device(a), BF16, k,
                        accumulate ? one : zero,
                        device(c), F32, n,
                        CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
                "cublasGemmEx", shapes);
    }

    /**
     * For each batch b (row-major, fp16 inputs, fp32 output):
     * {@code C_b[m][n] = scale * A_b[m][k] . B_b[n][k]^T} when {@code transposeB}, else
     * {@code C_b[m][n] = scale * A_b[m][k] . B_b[k][n]}. Leading dimensions are the row lengths in elements,
     * strides the distances between batches in elements.
     */
    void batchedF16(int batches, int m, int n, int k, float scale, boolean transposeB,
                    DeviceBuffer a, int lda, long strideA, DeviceBuffer b, int ldb, long strideB,
                    DeviceBuffer c, int ldc, long strideC, String shapes) {
        CudaKernels.requirePositive(shapes, batches, m, n, k);
        CudaKernels.require(a, ((batches - 1) * strideA + (long) (m - 1) * lda + k) * 2, shapes);
        CudaKernels.require(b, ((batches - 1) * strideB + (transposeB ? (long) (n - 1) * ldb + k
                : (long) (k - 1) * ldb + n)) * 2, shapes);
        CudaKernels.require(c, ((batches - 1) * strideC + (long) (m - 1) * ldc + n) * 4, shapes);
        alpha.put(0, scale);
        // column-major: C_b^T (n x m) = op(B_b) (n x k) . A_b^T (k x m), A_b^T being A_b as stored.
        check(cublasGemmStridedBatchedEx(handle, transposeB ? CUBLAS_OP_T : CUBLAS_OP_N, CUBLAS_OP_N, n, m, k, alpha,
                        device(b), F16, ldb, strideB,
                        device(a), F16, lda, strideA,
                        zero,
                        device(c), F32, ldc, strideC,
                        batches, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
                "cublasGemmStridedBatchedEx", shapes);
    }

    /** A JavaCPP pointer to device memory (cuBLAS takes raw device addresses). */
    private static Pointer device(DeviceBuffer buffer) {
        return new Pointer() {
            {
                address = buffer.address();
            }
        };
    }

    private static void check(int status, String call, String what) {
        if (status != 0) {
            BytePointer text = cublasGetStatusString(status);
            throw new CudaException(call + " failed with cuBLAS status " + status + " ("
                    + (text == null ? "unknown" : text.getString()) + ")" + (what.isEmpty() ? "" : " for " + what), status);
        }
    }

    @Override
    public void close() {
        if (closed) return;
        closed = true;
        cublasDestroy_v2(handle);
        one.close();
        zero.close();
        alpha.close();
    }
}
