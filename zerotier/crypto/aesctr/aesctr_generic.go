//go:build !amd64 || purego

package aesctr

func xorKeyStream(k *Key, dst, src []byte, iv *[16]byte) { xorKeyStreamGeneric(k, dst, src, iv) }
