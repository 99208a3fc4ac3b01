// Salsa20/12 for eight blocks at once with AVX2, our own code. Same
// vertical layout as salsa2012_amd64.s (lane k of vector i = word i of block
// k), 256-bit registers and three-operand VEX forms.

#include "textflag.h"

// VSTEP: b ^= rotl(a+d, r).
#define VSTEP(a, d, b, r, rr, t, u) \
	VPADDD a, d, t; VPSLLD $r, t, u; VPSRLD $rr, t, t; VPXOR u, b, b; VPXOR t, b, b

#define VQR(a, b, c, d, t, u) \
	VSTEP(a, d, b, 7, 25, t, u); \
	VSTEP(b, a, c, 9, 23, t, u); \
	VSTEP(c, b, d, 13, 19, t, u); \
	VSTEP(d, c, a, 18, 14, t, u)

// VHALF: two quarter-rounds on the words with frame indices a0..d1.
#define VHALF(a0, b0, c0, d0, a1, b1, c1, d1) \
	VMOVDQU (a0*32)(SP), Y0; VMOVDQU (b0*32)(SP), Y1; VMOVDQU (c0*32)(SP), Y2; VMOVDQU (d0*32)(SP), Y3; \
	VMOVDQU (a1*32)(SP), Y4; VMOVDQU (b1*32)(SP), Y5; VMOVDQU (c1*32)(SP), Y6; VMOVDQU (d1*32)(SP), Y7; \
	VQR(Y0, Y1, Y2, Y3, Y8, Y9); \
	VQR(Y4, Y5, Y6, Y7, Y10, Y11); \
	VMOVDQU Y0, (a0*32)(SP); VMOVDQU Y1, (b0*32)(SP); VMOVDQU Y2, (c0*32)(SP); VMOVDQU Y3, (d0*32)(SP); \
	VMOVDQU Y4, (a1*32)(SP); VMOVDQU Y5, (b1*32)(SP); VMOVDQU Y6, (c1*32)(SP); VMOVDQU Y7, (d1*32)(SP)

#define VSPLAT(i) VPBROADCASTD (i*4)(BX), Y0; VMOVDQU Y0, (512+i*32)(SP)

#define VLANE(k) \
	LEAQ k(R8), AX; MOVL AX, (768+k*4)(SP); SHRQ $32, AX; MOVL AX, (800+k*4)(SP)

#define VCOPY(i) VMOVDQU (512+i*32)(SP), Y0; VMOVDQU Y0, (i*32)(SP)

// VADDJ: r = x[i] + j[i], the finished keystream word i of the eight blocks.
#define VADDJ(i, r) VMOVDQU (i*32)(SP), r; VPADDD (512+i*32)(SP), r, r

// VT4: 4x4 transpose of 32-bit words inside each 128-bit half: afterwards
// r0..r3 hold four consecutive words of blocks (0|4), (1|5), (2|6), (3|7).
#define VT4(r0, r1, r2, r3, t0, t1, t2, t3) \
	VPUNPCKLDQ r1, r0, t0; VPUNPCKHDQ r1, r0, t1; VPUNPCKLDQ r3, r2, t2; VPUNPCKHDQ r3, r2, t3; \
	VPUNPCKLQDQ t2, t0, r0; VPUNPCKHQDQ t2, t0, r1; VPUNPCKLQDQ t3, t1, r2; VPUNPCKHQDQ t3, t1, r3

// VWR: join low (words 0-3) and high (words 4-7) halves into 32 bytes of
// blocks k and k+4 at byte offset off within the block, XOR with src, store.
#define VWR(lo, hi, k, off) \
	VPERM2I128 $0x20, hi, lo, Y12; VPXOR (k*64+off)(SI), Y12, Y12; VMOVDQU Y12, (k*64+off)(DI); \
	VPERM2I128 $0x31, hi, lo, Y13; VPXOR (k*64+256+off)(SI), Y13, Y13; VMOVDQU Y13, (k*64+256+off)(DI)

// VOUT: words w..w+7 of the eight blocks (byte offset off = 4w).
#define VOUT(w0, w1, w2, w3, w4, w5, w6, w7, off) \
	VADDJ(w0, Y0); VADDJ(w1, Y1); VADDJ(w2, Y2); VADDJ(w3, Y3); \
	VT4(Y0, Y1, Y2, Y3, Y8, Y9, Y10, Y11); \
	VADDJ(w4, Y4); VADDJ(w5, Y5); VADDJ(w6, Y6); VADDJ(w7, Y7); \
	VT4(Y4, Y5, Y6, Y7, Y8, Y9, Y10, Y11); \
	VWR(Y0, Y4, 0, off); VWR(Y1, Y5, 1, off); VWR(Y2, Y6, 2, off); VWR(Y3, Y7, 3, off)

// func xorBlocks8AVX2(dst, src *byte, n uint64, st *state, counter uint64)
// XORs n groups of eight blocks (512 bytes each) of src with the keystream
// starting at block counter. Frame: x[16] at 0, j[16] at 512 (32 bytes each).
TEXT ·xorBlocks8AVX2(SB), 0, $1024-40
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	MOVQ st+24(FP), BX
	MOVQ counter+32(FP), R8
	TESTQ CX, CX
	JZ done
	VSPLAT(0); VSPLAT(1); VSPLAT(2); VSPLAT(3)
	VSPLAT(4); VSPLAT(5); VSPLAT(6); VSPLAT(7)
	VSPLAT(10); VSPLAT(11); VSPLAT(12); VSPLAT(13)
	VSPLAT(14); VSPLAT(15)

group:
	VLANE(0); VLANE(1); VLANE(2); VLANE(3)
	VLANE(4); VLANE(5); VLANE(6); VLANE(7)
	VCOPY(0); VCOPY(1); VCOPY(2); VCOPY(3)
	VCOPY(4); VCOPY(5); VCOPY(6); VCOPY(7)
	VCOPY(8); VCOPY(9); VCOPY(10); VCOPY(11)
	VCOPY(12); VCOPY(13); VCOPY(14); VCOPY(15)
	MOVQ $6, DX

doubleround:
	VHALF(0, 4, 8, 12, 5, 9, 13, 1)
	VHALF(10, 14, 2, 6, 15, 3, 7, 11)
	VHALF(0, 1, 2, 3, 5, 6, 7, 4)
	VHALF(10, 11, 8, 9, 15, 12, 13, 14)
	DECQ DX
	JNZ doubleround

	VOUT(0, 1, 2, 3, 4, 5, 6, 7, 0)
	VOUT(8, 9, 10, 11, 12, 13, 14, 15, 32)

	ADDQ $512, SI
	ADDQ $512, DI
	ADDQ $8, R8
	DECQ CX
	JNZ group
	VZEROUPPER

done:
	RET
