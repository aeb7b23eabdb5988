package dev.quantspec.cuda;

import java.io.IOException;
import java.io.InputStream;

/** The fatbin that the native-kernels module compiles with nvcc and ships as a class-path resource. */
final class KernelImage {
    static final String RESOURCE = "dev/quantspec/kernels/quantspec.fatbin";

    private KernelImage() {}

    static byte[] load() {
        return load(RESOURCE);
    }

    static byte[] load(String resource) {
        try (InputStream in = KernelImage.class.getClassLoader().getResourceAsStream(resource)) {
            if (in == null) {
                throw new CudaUnavailableException("the CUDA kernels were not built (nvcc missing at build time): "
                        + "the resource " + resource + " is not on the class path; rebuild with nvcc on PATH "
                        + "(mvn -pl native-kernels install) or use backend=cpu");
            }
            byte[] image = in.readAllBytes();
            if (image.length == 0) {
                throw new CudaUnavailableException("the CUDA kernel image " + resource + " is empty; rebuild native-kernels");
            }
            return image;
        } catch (IOException e) {
            throw new CudaUnavailableException("cannot read the CUDA kernel image " + resource + ": " + e.getMessage(), e);
        }
    }
}
