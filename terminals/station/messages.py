"""Everything the issuing station says to a clerk, in English and Chinese."""

from __future__ import annotations

from terminals.client.i18n import register

MESSAGES: dict[str, dict[str, str]] = {
    # --- Failures -----------------------------------------------------------------------
    "pcscd_down": {
        "en": "The smart-card service (pcscd) is not running: {detail}",
        "zh-hans": "智能卡服务（pcscd）未运行：{detail}",
    },
    "no_reader": {
        "en": "No card reader is connected.",
        "zh-hans": "未连接读卡器。",
    },
    "reader_not_found": {
        "en": "No reader named like \"{name}\". Readers: {readers}",
        "zh-hans": "找不到名称含“{name}”的读卡器。现有读卡器：{readers}",
    },
    "no_card": {
        "en": "No card on the reader {reader}. Put the card on the reader and try again.",
        "zh-hans": "读卡器 {reader} 上没有卡片。请放上卡片后重试。",
    },
    "card_removed": {
        "en": "The card left the reader during a command: {detail}. Nothing the card did not "
              "confirm was done; put it back and run the same command again to finish.",
        "zh-hans": "操作过程中卡片离开了读卡器：{detail}。卡片未确认的操作均未生效；"
                   "请放回卡片并重新执行同一命令以完成。",
    },
    "not_onecard": {
        "en": "This card has no OneCard application (status word {sw}).",
        "zh-hans": "此卡没有一卡通应用（状态字 {sw}）。",
    },
    "card_refused": {
        "en": "The card refused the command: {sw} ({meaning}).",
        "zh-hans": "卡片拒绝了命令：{sw}（{meaning}）。",
    },
    "load_refused": {
        "en": "No load was written: {reason}.",
        "zh-hans": "未写入任何圈存：{reason}。",
    },
    "card_already_personalised": {
        "en": "This card is already personalised as card {card_no}; it cannot be issued again. "
              "Use a blank card.",
        "zh-hans": "此卡已个人化为卡号 {card_no}，不能再次发卡。请使用空白卡。",
    },
    "wrong_card": {
        "en": "Wrong card: expected card {expected}, the reader holds {found}.",
        "zh-hans": "卡片不符：应为卡号 {expected}，读卡器上是 {found}。",
    },
    "uid_in_use": {
        "en": "This card (UID {uid}) already belongs to card {card_no} of cardholder {holder}.",
        "zh-hans": "此卡（UID {uid}）已属于持卡人 {holder} 的卡号 {card_no}。",
    },
    "not_personalised": {
        "en": "The card on the reader is blank (not personalised); issue it first.",
        "zh-hans": "读卡器上的卡片为空白卡（未个人化），请先发卡。",
    },
    "unknown_card": {
        "en": "The server knows no card {card_no}.",
        "zh-hans": "服务器上没有卡号 {card_no}。",
    },
    "verify_failed": {
        "en": "Read-back check failed: the card says {found}, expected {expected}.",
        "zh-hans": "回读校验失败：卡片显示 {found}，应为 {expected}。",
    },
    "server_refused": {
        "en": "The server refused ({status} {error}): {message}",
        "zh-hans": "服务器拒绝了请求（{status} {error}）：{message}",
    },
    "server_unreachable": {
        "en": "The server does not answer ({detail}). Nothing was lost: run the same command "
              "again when it is back.",
        "zh-hans": "服务器无响应（{detail}）。没有数据丢失：服务器恢复后请重新执行同一命令。",
    },
    "no_terminal": {
        "en": "Writing money to cards needs the issuing reader's terminal credentials "
              "(--terminal-id and --secret, or ONECARD_TERMINAL_ID and ONECARD_TERMINAL_SECRET).",
        "zh-hans": "向卡片写入金额需要发卡读卡器的终端凭据（--terminal-id 与 --secret，"
                   "或环境变量 ONECARD_TERMINAL_ID 与 ONECARD_TERMINAL_SECRET）。",
    },
    "no_new_card": {
        "en": "No new card was put on the reader within {seconds} s.",
        "zh-hans": "{seconds} 秒内未放上新卡。",
    },
    "old_card_needed": {
        "en": "Put the old card on the reader, or pass --without-old-card when the holder "
              "no longer has it.",
        "zh-hans": "请将旧卡放到读卡器上；如持卡人已没有旧卡，请加参数 --without-old-card。",
    },
    "card_needed": {
        "en": "Name the card with --card, or put it on the reader.",
        "zh-hans": "请用 --card 指定卡号，或将卡片放到读卡器上。",
    },
    "difference_stop": {
        "en": "The card differs from the server's records (reported to finance as exception "
              "{exception}). Check with the holder; to go on anyway run again with "
              "--accept-difference.",
        "zh-hans": "卡片与服务器记录不一致（已作为异常 {exception} 报告财务）。请与持卡人核实；"
                   "如仍要继续，请加参数 --accept-difference 重新执行。",
    },
    "not_live": {
        "en": "Card {card_no} is {status}; this action needs a card in use.",
        "zh-hans": "卡号 {card_no} 状态为 {status}；此操作需要在用的卡。",
    },
    # --- Progress and results -----------------------------------------------------------
    "reader_line": {"en": "{name}: {state}", "zh-hans": "{name}：{state}"},
    "reader_card": {"en": "card present", "zh-hans": "有卡"},
    "reader_empty": {"en": "no card", "zh-hans": "无卡"},
    "card_uid": {"en": "Card UID: {uid}", "zh-hans": "卡片 UID：{uid}"},
    "card_blank": {"en": "On the card: blank (not personalised)",
                   "zh-hans": "卡内：空白卡（未个人化）"},
    "card_status": {
        "en": "On the card: card {card_no}, key version {key_version}, counter {card_seq}, "
              "main {main}, subsidy {subsidy}",
        "zh-hans": "卡内：卡号 {card_no}，密钥版本 {key_version}，交易计数 {card_seq}，"
                   "主钱包 {main}，补助钱包 {subsidy}",
    },
    "server_status": {
        "en": "On the server: card {card_no} of {holder}, {status}{blacklisted}, counter "
              "{card_seq}",
        "zh-hans": "服务器：持卡人 {holder} 的卡号 {card_no}，状态 {status}{blacklisted}，"
                   "交易计数 {card_seq}",
    },
    "server_blacklisted": {"en": ", on the blacklist", "zh-hans": "，已列入黑名单"},
    "server_purse": {
        "en": "  {purse}: account {account}, card {card}, pending {pending}",
        "zh-hans": "  {purse}：账户 {account}，卡内 {card}，待圈存 {pending}",
    },
    "server_none": {"en": "On the server: no card with this UID is in use.",
                    "zh-hans": "服务器：没有使用此 UID 的在用卡。"},
    "purse_main": {"en": "main", "zh-hans": "主钱包"},
    "purse_subsidy": {"en": "subsidy", "zh-hans": "补助钱包"},
    "all_agree": {"en": "The card and the server agree.", "zh-hans": "卡片与服务器一致。"},
    "explain_blank_issued": {
        "en": "The server issued card {card_no} to this UID but the card is blank: the issue "
              "was interrupted. Run issue again to finish it.",
        "zh-hans": "服务器已将卡号 {card_no} 发给此 UID，但卡片仍为空白：发卡中途中断。"
                   "请重新执行发卡以完成。",
    },
    "explain_unknown": {
        "en": "The server knows no card {card_no}: a card of another system, or not ours.",
        "zh-hans": "服务器上没有卡号 {card_no}：可能是其他系统的卡，或不是本系统的卡。",
    },
    "explain_uid": {
        "en": "The card's UID {uid} is not the one recorded for card {card_no} ({recorded}): "
              "a copy of another card is suspected.",
        "zh-hans": "卡片 UID {uid} 与卡号 {card_no} 登记的 UID（{recorded}）不同：疑似复制卡。",
    },
    "explain_status": {
        "en": "The card is {status} on the server and terminals refuse it.",
        "zh-hans": "该卡在服务器上状态为 {status}，终端将拒绝使用。",
    },
    "explain_unsent": {
        "en": "The card counted {count} transaction(s) the server has not received yet "
              "(an offline terminal has not uploaded them).",
        "zh-hans": "卡片上有 {count} 笔交易服务器尚未收到（离线终端尚未上传）。",
    },
    "explain_ahead": {
        "en": "The server holds {count} transaction(s) beyond the card's counter: another card "
              "with this number is suspected.",
        "zh-hans": "服务器记录比卡片计数多 {count} 笔交易：疑似存在同号的另一张卡。",
    },
    "explain_purse": {
        "en": "{purse}: the card holds {card}, the records say {recorded} (difference {diff}).",
        "zh-hans": "{purse}：卡内 {card}，记录为 {recorded}（差额 {diff}）。",
    },
    "explain_pending": {
        "en": "{purse}: {amount} is waiting to be written to the card: run load.",
        "zh-hans": "{purse}：有 {amount} 待写入卡片：请执行圈存（load）。",
    },
    "explain_account": {
        "en": "{purse}: the account ({account}) is not the card plus pending ({sum}); "
              "reconciliation will raise it.",
        "zh-hans": "{purse}：账户余额（{account}）不等于卡内加待圈存（{sum}）；对账将提出异常。",
    },
    "issued": {"en": "Issued card {card_no} to {holder}.",
               "zh-hans": "已为 {holder} 发卡，卡号 {card_no}。"},
    "resuming": {"en": "Card {card_no} was issued already; finishing it.",
                 "zh-hans": "卡号 {card_no} 已发出，继续完成。"},
    "personalised": {"en": "Personalised the card as {card_no} (key version {key_version}).",
                     "zh-hans": "已个人化卡片，卡号 {card_no}（密钥版本 {key_version}）。"},
    "already_personalised_ok": {"en": "The card is already personalised as {card_no}.",
                                "zh-hans": "卡片已个人化为卡号 {card_no}。"},
    "verified": {"en": "Read back: the card is {card_no}, counter {card_seq}; check passed.",
                 "zh-hans": "回读：卡号 {card_no}，交易计数 {card_seq}；校验通过。"},
    "loaded": {"en": "Wrote {amount} to the {purse} purse (load {load_id}): {status}.",
               "zh-hans": "已向{purse}写入 {amount}（圈存单 {load_id}）：{status}。"},
    "load_skipped": {"en": "Load {load_id} left pending: {reason}.",
                     "zh-hans": "圈存单 {load_id} 暂未写入：{reason}。"},
    "load_none": {"en": "No pending loads for card {card_no}.",
                  "zh-hans": "卡号 {card_no} 没有待圈存的款项。"},
    "load_unsent": {
        "en": "{count} load record(s) are written to the card but not yet on the server; they "
              "are kept on this desk and sent on the next run.",
        "zh-hans": "{count} 条圈存记录已写入卡片但尚未上传服务器；已保存在本机，下次运行时发送。",
    },
    "pending_hint": {"en": "{amount} is pending for this card: run load to write it.",
                     "zh-hans": "此卡有 {amount} 待圈存：请执行圈存（load）写入。"},
    "balance_after": {"en": "On the card now: main {main}, subsidy {subsidy}.",
                      "zh-hans": "卡内现有：主钱包 {main}，补助钱包 {subsidy}。"},
    "reading_reported": {"en": "Reported what the card holds to the server: {result}.",
                         "zh-hans": "已向服务器报告卡内数据：{result}。"},
    "reading_agrees": {"en": "it agrees with the records", "zh-hans": "与记录一致"},
    "reading_differs": {"en": "it differs, exception {exception} raised for finance",
                        "zh-hans": "不一致，已为财务生成异常 {exception}"},
    "swap_prompt": {"en": "Remove the old card and put the new card on the reader…",
                    "zh-hans": "请取下旧卡，并将新卡放到读卡器上……"},
    "new_card_prompt": {"en": "Put the new card on the reader…",
                        "zh-hans": "请将新卡放到读卡器上……"},
    "replaced": {"en": "Card {old} replaced by card {new}.",
                 "zh-hans": "卡号 {old} 已换为新卡 {new}。"},
    "replace_resuming": {"en": "Card {old} was already replaced by {new}; finishing the new card.",
                         "zh-hans": "卡号 {old} 已换为 {new}；继续完成新卡。"},
    "cancelled": {
        "en": "Card {card_no} cancelled. Refund by {method}: main {main}, subsidy {subsidy}, "
              "deposit {deposit}, fee {fee}; paid out {total}.",
        "zh-hans": "卡号 {card_no} 已注销。退款方式 {method}：主钱包 {main}，补助 {subsidy}，"
                   "押金 {deposit}，手续费 {fee}；实退 {total}。",
    },
    "uploaded_queue": {"en": "Sent {count} record(s) this desk still held.",
                       "zh-hans": "已上传本机暂存的 {count} 条记录。"},
}

register(MESSAGES)
