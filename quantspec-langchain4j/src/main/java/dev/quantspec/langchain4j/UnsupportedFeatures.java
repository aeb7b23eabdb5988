package dev.quantspec.langchain4j;

import dev.langchain4j.data.message.AiMessage;
import dev.langchain4j.data.message.AudioContent;
import dev.langchain4j.data.message.ChatMessage;
import dev.langchain4j.data.message.Content;
import dev.langchain4j.data.message.CustomMessage;
import dev.langchain4j.data.message.ImageContent;
import dev.langchain4j.data.message.PdfFileContent;
import dev.langchain4j.data.message.TextContent;
import dev.langchain4j.data.message.ToolExecutionResultMessage;
import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.data.message.VideoContent;
import dev.langchain4j.exception.UnsupportedFeatureException;
import dev.langchain4j.model.chat.request.ChatRequestParameters;
import dev.langchain4j.model.chat.request.ResponseFormatType;
import dev.langchain4j.model.chat.request.ToolChoice;
import java.util.List;

/**
 * Rejects, before any work starts, what the engine cannot do: tools, structured (JSON) output,
 * frequency and presence penalties, another model than the loaded one, and non-text inputs. A
 * silently ignored tool list or JSON schema would produce answers that look valid but are not, so
 * every such request fails with an {@link UnsupportedFeatureException} naming the feature.
 */
final class UnsupportedFeatures {
    private UnsupportedFeatures() {}

    static void check(ChatRequestParameters p, String servedModel) {
        if (p.modelName() != null && !p.modelName().equals(servedModel)) {
            throw unsupported("modelName '" + p.modelName() + "' is not supported: this QuantSpec model serves only '"
                    + servedModel + "' (build another model for another folder)");
        }
        if (p.toolChoice() == ToolChoice.REQUIRED) {
            throw unsupported("ToolChoice.REQUIRED is not supported: QuantSpec models cannot call tools");
        }
        if (p.toolSpecifications() != null && !p.toolSpecifications().isEmpty()) {
            throw unsupported("tools are not supported: QuantSpec models cannot call tools (got "
                    + p.toolSpecifications().size() + " tool specification(s), the first '"
                    + p.toolSpecifications().get(0).name() + "')");
        }
        if (p.responseFormat() != null && p.responseFormat().type() == ResponseFormatType.JSON) {
            throw unsupported("JSON response format is not supported: QuantSpec models answer in plain text only"
                    + (p.responseFormat().jsonSchema() != null ? " (a JSON schema was given)" : ""));
        }
        // 0 is the neutral value many configurations send by default; only a real penalty is refused.
        if (p.frequencyPenalty() != null && p.frequencyPenalty() != 0.0) {
            throw unsupported("frequencyPenalty is not supported by QuantSpec models (got " + p.frequencyPenalty() + ")");
        }
        if (p.presencePenalty() != null && p.presencePenalty() != 0.0) {
            throw unsupported("presencePenalty is not supported by QuantSpec models (got " + p.presencePenalty() + ")");
        }
    }

    static void check(List<ChatMessage> messages) {
        for (int i = 0; i < messages.size(); i++) {
            ChatMessage m = messages.get(i);
            if (m instanceof ToolExecutionResultMessage t) {
                throw unsupported("tool execution results are not supported: message " + i
                        + " is the result of tool '" + t.toolName() + "', but QuantSpec models cannot call tools");
            }
            if (m instanceof AiMessage ai && ai.hasToolExecutionRequests()) {
                throw unsupported("tool execution requests are not supported: message " + i
                        + " is an AI message that calls tools, but QuantSpec models cannot call tools");
            }
            if (m instanceof CustomMessage) {
                throw unsupported("custom messages are not supported: message " + i
                        + " is a CustomMessage; use system, user and AI messages");
            }
            if (m instanceof UserMessage u) {
                for (Content c : u.contents()) {
                    if (!(c instanceof TextContent)) {
                        throw unsupported(contentKind(c) + " inputs are not supported: message " + i
                                + " holds " + c.type() + " content, but QuantSpec models read text only");
                    }
                }
            }
        }
    }

    private static String contentKind(Content c) {
        if (c instanceof ImageContent) {
            return "image";
        } else if (c instanceof AudioContent) {
            return "audio";
        } else if (c instanceof VideoContent) {
            return "video";
        } else if (c instanceof PdfFileContent) {
            return "PDF";
        }
        return c.type().name().toLowerCase(java.util.Locale.ROOT);
    }

    private static UnsupportedFeatureException unsupported(String message) {
        return new UnsupportedFeatureException(message);
    }
}
