package dev.quantspec.quarkus.runtime;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.inject.Any;
import jakarta.enterprise.inject.Instance;
import jakarta.inject.Inject;
import org.eclipse.microprofile.health.HealthCheck;
import org.eclipse.microprofile.health.HealthCheckResponse;
import org.eclipse.microprofile.health.HealthCheckResponseBuilder;
import org.eclipse.microprofile.health.Readiness;

/**
 * Ready when every QuantSpec model the application uses is loaded and open. Reports, per
 * configuration, the model, the backend in use and the decoder. Registered only when the
 * application has quarkus-smallrye-health.
 */
@Readiness
@ApplicationScoped
public class QuantSpecReadinessCheck implements HealthCheck {

    @Inject
    @Any
    Instance<QuantSpecEngineHolder> holders;

    @Override
    public HealthCheckResponse call() {
        HealthCheckResponseBuilder b = HealthCheckResponse.named("QuantSpec models").up();
        boolean any = false;
        for (QuantSpecEngineHolder h : holders) {
            any = true;
            String prefix = h.settings().configName() + ".";
            b.withData(prefix + "model", h.modelName())
                    .withData(prefix + "loaded", h.isOpen())
                    .withData(prefix + "backend", h.backendName())
                    .withData(prefix + "decoder", h.settings().decoder().name().toLowerCase())
                    .withData(prefix + "context-length", h.engine().contextLength());
            if (!h.isOpen()) {
                b.down();
            }
        }
        if (!any) {
            b.withData("models", "none in use");
        }
        return b.build();
    }
}
