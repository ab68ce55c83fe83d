// websocket_receiver.cpp: Receiver (see websocket_receiver.h).
#include "websocket_receiver.h"

#include <algorithm>
#include <cstring>

namespace cogo::websocket::detail {

namespace {

const unsigned char kDeflateTail[4] = {0x00, 0x00, 0xff, 0xff};

}  // namespace

Receiver::~Receiver() {
  if (inflater_ && config_.deflate.client_no_context_takeover) {
    inflater_->reset();
    give_inflater(std::move(inflater_));
  }
}

Receiver::Step Receiver::fail(std::uint16_t code, const char* reason, std::size_t consumed,
                              std::size_t produced) {
  phase_ = Phase::done;
  fail_code_ = code;
  fail_reason_ = reason;
  return Step{Event::fail, consumed, produced};
}

Inflater& Receiver::inflater() {
  if (!inflater_) {
    inflater_ = config_.deflate.client_no_context_takeover
                    ? take_inflater(config_.deflate)
                    : std::make_unique<Inflater>(config_.deflate);
  }
  return *inflater_;
}

void Receiver::end_compressed_message() noexcept {
  // RFC 7692 7.2.2: without context takeover the client starts each message
  // afresh; the decompressor goes back to the thread's cache meanwhile.
  if (config_.deflate.client_no_context_takeover && inflater_) {
    inflater_->reset();
    give_inflater(std::move(inflater_));
  }
}

Receiver::Step Receiver::step(unsigned char* in, std::size_t n, char* out_chars, std::size_t room,
                              std::uint64_t message_limit) {
  auto* out = reinterpret_cast<unsigned char*>(out_chars);
  std::size_t consumed = 0;
  std::size_t produced = 0;
  for (;;) {
    switch (phase_) {
      case Phase::done:
        return Step{Event::fail, consumed, produced};

      case Phase::header: {
        if (produced > 0) return Step{Event::data, consumed, produced};
        FrameHeader h;
        const HeaderStatus hs = parse_frame_header(in + consumed, n - consumed, h);
        if (hs == HeaderStatus::need_more) {
          want_ = h.size;
          return Step{Event::need_more, consumed, produced};
        }
        if (hs == HeaderStatus::length_top_bit) {
          return fail(close_code::protocol_error,
                      "a 64-bit frame length with the most significant bit set", consumed,
                      produced);
        }
        if (hs == HeaderStatus::length_not_minimal) {
          return fail(close_code::protocol_error, "a frame length not in its shortest form",
                      consumed, produced);
        }
        if (h.rsv2 || h.rsv3) {
          return fail(close_code::protocol_error,
                      "RSV2/RSV3 set without an extension that defines them", consumed, produced);
        }
        if (!is_known_opcode(h.opcode)) {
          return fail(close_code::protocol_error, "a reserved opcode", consumed, produced);
        }
        if (!h.masked) {
          return fail(close_code::protocol_error, "an unmasked frame from the client", consumed,
                      produced);
        }
        if (is_control(h.opcode)) {
          if (!h.fin)
            return fail(close_code::protocol_error, "a fragmented control frame", consumed,
                        produced);
          if (h.length > kMaxControlPayload) {
            return fail(close_code::protocol_error, "a control frame over 125 bytes", consumed,
                        produced);
          }
          if (h.rsv1)
            return fail(close_code::protocol_error, "RSV1 on a control frame", consumed, produced);
          const std::size_t whole = h.size + static_cast<std::size_t>(h.length);
          if (n - consumed < whole) {
            want_ = whole;
            return Step{Event::need_more, consumed, produced};
          }
          control_size_ = static_cast<std::uint8_t>(h.length);
          unmask(control_, in + consumed + h.size, control_size_, h.mask, 0);
          consumed += whole;
          want_ = 2;
          switch (static_cast<Opcode>(h.opcode)) {
            case Opcode::ping:
              return Step{Event::ping, consumed, produced};
            case Opcode::pong:
              return Step{Event::pong, consumed, produced};
            default:
              break;
          }
          // Close (5.5.1): empty, or a 2-byte code and a UTF-8 reason.
          if (control_size_ == 0) {
            close_code_ = close_code::no_status;
          } else if (control_size_ == 1) {
            return fail(close_code::protocol_error, "a close frame with a 1-byte payload", consumed,
                        produced);
          } else {
            close_code_ = static_cast<std::uint16_t>((control_[0] << 8) | control_[1]);
            if (!valid_close_code(close_code_)) {
              return fail(close_code::protocol_error, "a close code that may not be sent", consumed,
                          produced);
            }
            if (!valid_utf8(reinterpret_cast<const char*>(control_) + 2, control_size_ - 2u)) {
              return fail(close_code::invalid_payload, "a close reason that is not UTF-8", consumed,
                          produced);
            }
          }
          phase_ = Phase::done;
          return Step{Event::close, consumed, produced};
        }
        // A data frame.
        if (static_cast<Opcode>(h.opcode) == Opcode::continuation) {
          if (!in_message_) {
            return fail(close_code::protocol_error,
                        "a continuation frame with no message to continue", consumed, produced);
          }
          if (h.rsv1) {
            return fail(close_code::protocol_error, "RSV1 on a continuation frame", consumed,
                        produced);
          }
        } else {
          if (in_message_) {
            return fail(close_code::protocol_error, "a new message inside a fragmented one",
                        consumed, produced);
          }
          if (h.rsv1 && !config_.deflate.enabled) {
            return fail(close_code::protocol_error, "RSV1 set without permessage-deflate", consumed,
                        produced);
          }
          in_message_ = true;
          compressed_ = h.rsv1;
          kind_ = static_cast<Opcode>(h.opcode) == Opcode::text ? Kind::text : Kind::binary;
          message_bytes_ = 0;
          utf8_.reset();
        }
        if (h.length > config_.max_frame) {
          return fail(close_code::message_too_big, "a frame over the size limit", consumed,
                      produced);
        }
        if (!compressed_ && message_bytes_ + h.length > message_limit) {
          return fail(close_code::message_too_big, "a message over the size limit", consumed,
                      produced);
        }
        fin_ = h.fin;
        std::memcpy(mask_, h.mask, 4);
        remaining_ = h.length;
        frame_pos_ = 0;
        unmasked_ = 0;
        pending_output_ = false;
        consumed += h.size;
        want_ = 1;
        phase_ = Phase::payload;
        break;
      }

      case Phase::payload: {
        if (remaining_ > 0) {
          const std::size_t avail =
              static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, n - consumed));
          if (!compressed_) {
            if (avail == 0) {
              want_ = 1;
              return Step{produced > 0 ? Event::data : Event::need_more, consumed, produced};
            }
            const std::size_t k = std::min(avail, room - produced);
            if (k == 0) return Step{Event::data, consumed, produced};
            unmask(out + produced, in + consumed, k, mask_, frame_pos_);
            if (kind_ == Kind::text && !utf8_.feed(out + produced, k)) {
              return fail(close_code::invalid_payload, "text that is not UTF-8", consumed + k,
                          produced + k);
            }
            frame_pos_ += k;
            remaining_ -= k;
            consumed += k;
            produced += k;
            message_bytes_ += k;
            if (remaining_ > 0) continue;
          } else {
            if (avail == 0 && !pending_output_) {
              want_ = 1;
              return Step{produced > 0 ? Event::data : Event::need_more, consumed, produced};
            }
            if (room == produced) return Step{Event::data, consumed, produced};
            // Unmask in place what was not unmasked by an earlier call.
            if (avail > unmasked_) {
              unmask(in + consumed + unmasked_, in + consumed + unmasked_, avail - unmasked_, mask_,
                     frame_pos_ + unmasked_);
              unmasked_ = avail;
            }
            const std::size_t space = room - produced;
            const Inflater::Result r =
                inflater().inflate(in + consumed, avail, out + produced, space);
            if (r.status == Inflater::Status::error) {
              return fail(close_code::invalid_payload, "compressed data that does not inflate",
                          consumed, produced);
            }
            if (kind_ == Kind::text && !utf8_.feed(out + produced, r.produced)) {
              return fail(close_code::invalid_payload, "text that is not UTF-8", consumed,
                          produced + r.produced);
            }
            pending_output_ = r.produced == space;
            unmasked_ -= r.consumed;
            frame_pos_ += r.consumed;
            remaining_ -= r.consumed;
            consumed += r.consumed;
            produced += r.produced;
            message_bytes_ += r.produced;
            if (message_bytes_ > message_limit) {
              return fail(close_code::message_too_big,
                          "a message that inflates over the size limit", consumed, produced);
            }
            if (remaining_ > 0 || pending_output_) {
              if (pending_output_) return Step{Event::data, consumed, produced};
              continue;  // need more input: the top of the loop says so
            }
          }
        }
        // The frame's payload is consumed.
        if (!fin_) {
          want_ = 2;
          phase_ = Phase::header;
          continue;
        }
        if (compressed_) {
          tail_fed_ = 0;
          phase_ = Phase::inflate_tail;
          continue;
        }
        if (kind_ == Kind::text && !utf8_.complete()) {
          return fail(close_code::invalid_payload, "text that ends inside a UTF-8 sequence",
                      consumed, produced);
        }
        in_message_ = false;
        want_ = 2;
        phase_ = Phase::header;
        return Step{Event::message_end, consumed, produced};
      }

      case Phase::inflate_tail: {
        if (room == produced) return Step{Event::data, consumed, produced};
        const std::size_t space = room - produced;
        const Inflater::Result r =
            inflater().inflate(kDeflateTail + tail_fed_, 4u - tail_fed_, out + produced, space);
        if (r.status == Inflater::Status::error) {
          return fail(close_code::invalid_payload, "compressed data that does not inflate",
                      consumed, produced);
        }
        if (kind_ == Kind::text && !utf8_.feed(out + produced, r.produced)) {
          return fail(close_code::invalid_payload, "text that is not UTF-8", consumed,
                      produced + r.produced);
        }
        tail_fed_ = static_cast<std::uint8_t>(tail_fed_ + r.consumed);
        produced += r.produced;
        message_bytes_ += r.produced;
        if (message_bytes_ > message_limit) {
          return fail(close_code::message_too_big, "a message that inflates over the size limit",
                      consumed, produced);
        }
        if (r.produced == space)
          return Step{Event::data, consumed, produced};  // more output may wait
        if (tail_fed_ < 4) {
          // A final block ended the stream inside the tail: the rest goes to
          // the fresh one. No progress at all is data zlib refuses.
          if (r.consumed == 0) {
            return fail(close_code::invalid_payload, "compressed data that does not inflate",
                        consumed, produced);
          }
          continue;
        }
        if (kind_ == Kind::text && !utf8_.complete()) {
          return fail(close_code::invalid_payload, "text that ends inside a UTF-8 sequence",
                      consumed, produced);
        }
        end_compressed_message();
        in_message_ = false;
        want_ = 2;
        phase_ = Phase::header;
        return Step{Event::message_end, consumed, produced};
      }
    }
  }
}

}  // namespace cogo::websocket::detail
