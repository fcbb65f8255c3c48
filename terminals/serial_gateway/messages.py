"""Every line the serial gateway shows a person, in English and Chinese (the client
library's `i18n` catalogue). Registered once, when this module is first imported."""

from __future__ import annotations

from terminals.client import i18n

MESSAGES = {
    "config_missing": {
        "en": "gateway.toml: {key} is missing.",
        "zh-hans": "gateway.toml：缺少 {key}。",
    },
    "config_unreadable": {
        "en": "Cannot read the configuration {path}: {error}",
        "zh-hans": "无法读取配置文件 {path}：{error}",
    },
    "config_not_toml": {
        "en": "The configuration {path} is not valid TOML: {error}",
        "zh-hans": "配置文件 {path} 不是有效的 TOML：{error}",
    },
    "config_server_url": {
        "en": "gateway.toml: server.url must be an http:// or https:// address, not {value!r}.",
        "zh-hans": "gateway.toml：server.url 必须是 http:// 或 https:// 地址，而不是 {value!r}。",
    },
    "config_no_readers": {
        "en": "gateway.toml: name at least one [[reader]].",
        "zh-hans": "gateway.toml：至少需要一个 [[reader]]。",
    },
    "config_too_many_readers": {
        "en": "gateway.toml: {n} readers, but a bus holds at most {max}.",
        "zh-hans": "gateway.toml：共 {n} 台读卡器，但一条总线最多 {max} 台。",
    },
    "config_reader_table": {
        "en": "gateway.toml: reader {n} is not a table.",
        "zh-hans": "gateway.toml：第 {n} 个 reader 不是表。",
    },
    "config_reader_address": {
        "en": "gateway.toml: reader {n} has address {value!r}; an address is 1 to 247.",
        "zh-hans": "gateway.toml：第 {n} 个 reader 的地址为 {value!r}；地址应为 1 到 247。",
    },
    "config_reader_terminal_id": {
        "en": "gateway.toml: reader {n} has terminal_id {value!r}; it is 1 to 32 letters, "
              "digits or dashes.",
        "zh-hans": "gateway.toml：第 {n} 个 reader 的 terminal_id 为 {value!r}；应为 1 到 32 "
                   "个字母、数字或连字符。",
    },
    "config_reader_secret": {
        "en": "gateway.toml: the secret of reader {n} ({terminal_id}) must be 64 hex "
              "characters.",
        "zh-hans": "gateway.toml：第 {n} 个 reader（{terminal_id}）的 secret 必须是 64 个十六"
                   "进制字符。",
    },
    "config_duplicate": {
        "en": "gateway.toml: two readers have the same {key} {value}.",
        "zh-hans": "gateway.toml：两台读卡器的 {key} 相同：{value}。",
    },
    "config_unknown_key": {
        "en": "gateway.toml: unknown setting {key}.",
        "zh-hans": "gateway.toml：未知的设置 {key}。",
    },
    "config_positive": {
        "en": "gateway.toml: {key} must be a positive number, not {value!r}.",
        "zh-hans": "gateway.toml：{key} 必须是正数，而不是 {value!r}。",
    },
    "port_unavailable": {
        "en": "Cannot open the serial port {port}: {error}",
        "zh-hans": "无法打开串口 {port}：{error}",
    },
    "bad_baud": {
        "en": "The baud rate is 9600 to 115200, not {baud}.",
        "zh-hans": "波特率应为 9600 到 115200，而不是 {baud}。",
    },
    "gateway_started": {
        "en": "Serial gateway on {port} at {baud} baud: {readers} readers, server {server}, "
              "queue {queue}.",
        "zh-hans": "串口网关已启动：{port}，{baud} 波特，{readers} 台读卡器，服务器 {server}，"
                   "队列 {queue}。",
    },
    "gateway_stopping": {
        "en": "Stopping: {pending} records still in the gateway's queue will be uploaded "
              "after the next start.",
        "zh-hans": "正在停止：网关队列中还有 {pending} 条记录，将在下次启动后上传。",
    },
    "gateway_stopped": {
        "en": "Serial gateway stopped.",
        "zh-hans": "串口网关已停止。",
    },
    "gateway_progress": {
        "en": "received {received} records, uploaded {uploaded}, queued {pending}; readers "
              "online {online}/{readers}; dropped frames {dropped}; server {server}.",
        "zh-hans": "已收到 {received} 条记录，已上传 {uploaded} 条，排队 {pending} 条；在线读卡器 "
                   "{online}/{readers}；丢弃的帧 {dropped}；服务器 {server}。",
    },
    "server_up": {"en": "reachable", "zh-hans": "可达"},
    "server_down": {"en": "unreachable", "zh-hans": "不可达"},
    "reader_online": {
        "en": "Reader {address} ({terminal_id}) is online.",
        "zh-hans": "读卡器 {address}（{terminal_id}）已上线。",
    },
    "reader_offline": {
        "en": "Reader {address} ({terminal_id}) does not answer: offline, polled again in "
              "{interval:.0f} s.",
        "zh-hans": "读卡器 {address}（{terminal_id}）无应答：已离线，{interval:.0f} 秒后重试。",
    },
    "reader_conflict": {
        "en": "Reader {address} ({terminal_id}) sent a different record {seq}; both are kept, "
              "the new one for investigation.",
        "zh-hans": "读卡器 {address}（{terminal_id}）发来了内容不同的记录 {seq}；两条都已保留，"
                   "新的一条留待调查。",
    },
    "reader_bad_records": {
        "en": "Reader {address} ({terminal_id}) sent records that do not follow the contract "
              "({error}); not acknowledged.",
        "zh-hans": "读卡器 {address}（{terminal_id}）发来的记录不符合协议（{error}）；未确认。",
    },
    "reader_error": {
        "en": "Reader {address} ({terminal_id}) answered error {error:02x} to command "
              "{command:02x}.",
        "zh-hans": "读卡器 {address}（{terminal_id}）对命令 {command:02x} 回复错误 {error:02x}。",
    },
    "upload_refused": {
        "en": "The server refused an upload for {terminal_id}: {error}",
        "zh-hans": "服务器拒绝了 {terminal_id} 的上传：{error}",
    },
    # Fault messages of the heartbeat (the server shows them to staff).
    "fault_reader_offline": {
        "en": "The reader has not answered the gateway's last {polls} polls.",
        "zh-hans": "读卡器未应答网关最近的 {polls} 次轮询。",
    },
    "fault_record_conflict": {
        "en": "The reader sent record {seq} again with different content.",
        "zh-hans": "读卡器再次发送了内容不同的记录 {seq}。",
    },
    "fault_reader_bit": {
        "en": "The reader reports fault {fault}.",
        "zh-hans": "读卡器报告故障 {fault}。",
    },
    "fault_reader_protocol": {
        "en": "The reader sent {count} answers that do not follow the bus contract.",
        "zh-hans": "读卡器发送了 {count} 个不符合总线协议的应答。",
    },
}

i18n.register(MESSAGES)


def text(code: str, lang: str = i18n.EN, **values: object) -> str:
    return i18n.message(code, lang, **values)
